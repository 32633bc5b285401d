"""Model packs on disk: find, read, verify and load one (directory or zip).

A pack is refused (:class:`~invest.runtime.errors.PolicyPackError`) when its
manifest is malformed, a listed policy file is missing or its SHA-256 differs
from the manifest, or it was built for another feature spec than the one this
runtime computes. The ONNX bytes that were hashed are the bytes kept in memory and
handed to onnxruntime, so a file swapped after verification is never run.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from invest.runtime import features
from invest.runtime.errors import PolicyPackError
from invest.runtime.policy.contract import (
    ACTIONS,
    OBS_LAYOUT,
    OBS_SPEC_VERSION,
    Normaliser,
    check_context,
    context_spec_hash,
    obs_layout,
)
from invest.runtime.policy.manifest import MANIFEST_FORMAT, Manifest

MANIFEST = "manifest.json"
#: Largest file read from a pack; far above any policy, it stops a zip bomb.
MAX_FILE_BYTES = 256 * 1024 * 1024

Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Pack:
    """A verified model pack, with its policies' ONNX bytes in manifest order.

    Attributes:
        path: where it was read from.
        manifest: the parsed manifest.
        models: ONNX bytes of each policy, exactly as hashed.
        sha: identity of the pack's weights (see :func:`pack_sha`); LSTM states
            saved under another sha are not reused.
    """

    path: Path
    manifest: Manifest
    models: tuple[bytes, ...]
    sha: str

    @property
    def name(self) -> str:
        """Pack name from the manifest."""
        return self.manifest.name

    @property
    def n_policies(self) -> int:
        """Number of policies in the ensemble."""
        return len(self.models)

    @property
    def layers(self) -> int:
        """LSTM layers."""
        return self.manifest.lstm.layers

    @property
    def hidden(self) -> int:
        """LSTM hidden size."""
        return self.manifest.lstm.hidden

    @property
    def obs_dim(self) -> int:
        """Observation length."""
        return self.manifest.observation.dim

    @property
    def n_actions(self) -> int:
        """Number of actions (3)."""
        return len(self.manifest.actions)

    @property
    def files(self) -> tuple[str, ...]:
        """Policy file names, in order."""
        return tuple(p.file for p in self.manifest.policies)

    @property
    def normaliser(self) -> Normaliser:
        """The frozen observation statistics (checked when the pack was read)."""
        assert self.manifest.normalisation is not None  # spec_problems refuses a pack without
        return Normaliser.from_json(self.manifest.normalisation.model_dump(), self.context)

    @property
    def context(self) -> tuple[str, ...]:
        """The market context series its observations carry (empty: none)."""
        return self.manifest.observation.context

    @property
    def min_universe(self) -> int:
        """The smallest universe the policies serve."""
        return self.manifest.universe.min_size if self.manifest.universe else 3


@dataclass(frozen=True)
class PolicyCheck:
    """Checksum result of one policy file."""

    file: str
    expected: str
    actual: str | None  # None: the file is missing

    @property
    def ok(self) -> bool:
        """True when the file exists and its hash matches."""
        return self.actual == self.expected


@dataclass(frozen=True)
class VerifyReport:
    """Everything :func:`verify_pack` found out about a pack."""

    path: Path
    manifest: Manifest | None
    policies: tuple[PolicyCheck, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the pack can be used."""
        return not self.problems

    @property
    def reason(self) -> str:
        """One line: ``ok`` or the problems found."""
        return "ok" if self.ok else "; ".join(self.problems)


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def pack_sha(manifest: Manifest) -> str:
    """Identity of what decides: SHA-256 over the policies' hashes, LSTM sizes and normalisation.

    The normalisation is part of it because the policies see normalised observations:
    the same weights behind other statistics are another policy, whose LSTM states
    must not be carried over (the manifest itself is not hashed).
    """
    lines = [f"lstm {manifest.lstm.layers}x{manifest.lstm.hidden}"]
    lines += [p.sha256 for p in manifest.policies]
    norm = manifest.normalisation
    if norm is not None:
        stats = {"mean": list(norm.mean), "std": list(norm.std), "clip": norm.clip}
        lines.append("normalisation " + json.dumps(stats, separators=(",", ":")))
    return sha256_hex("\n".join(lines).encode())


def runtime_spec(ohlc: bool = False, context: tuple[str, ...] = ()) -> tuple[str, str]:
    """``(version, hash)`` of the feature spec this runtime computes (with ``context``'s block)."""
    return features.FEATURE_SPEC_VERSION, context_spec_hash(features.spec_hash(ohlc=ohlc), context)


def expected_layout(context: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Observation layout of this runtime (docs/model-pack.md, ``contract.OBS_LAYOUT``),
    with the context block of a pack that declares ``context``."""
    return obs_layout(context) if context else OBS_LAYOUT


# --------------------------------------------------------------------------- reading


@contextmanager
def _open_reader(path: Path) -> Iterator[Reader]:
    """A function reading a file of the pack by relative name (None when missing)."""
    if path.is_dir():

        def read_dir(name: str) -> bytes | None:
            f = path / name
            if not f.is_file():
                return None
            if f.stat().st_size > MAX_FILE_BYTES:
                raise PolicyPackError(f"{name} is larger than {MAX_FILE_BYTES} bytes")
            return f.read_bytes()

        yield read_dir
        return
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise PolicyPackError(f"cannot read {path} as a zip file: {e}") from e
    with zf:
        members = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        prefix = _zip_root(members)

        def read_zip(name: str) -> bytes | None:
            info = members.get(prefix + name)
            if info is None:
                return None
            if info.file_size > MAX_FILE_BYTES:
                raise PolicyPackError(f"{name} is larger than {MAX_FILE_BYTES} bytes")
            return zf.read(info)

        yield read_zip


def _zip_root(members: dict[str, zipfile.ZipInfo]) -> str:
    """``""`` when manifest.json is at the zip's root, else its one top-level folder."""
    if MANIFEST in members:
        return ""
    tops = [n for n in members if n.count("/") == 1 and n.endswith("/" + MANIFEST)]
    return tops[0][: -len(MANIFEST)] if len(tops) == 1 else ""


def _parse_manifest(raw: bytes | None) -> tuple[Manifest | None, str | None]:
    if raw is None:
        return None, f"no {MANIFEST}"
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"{MANIFEST} is not valid JSON: {e}"
    try:
        return Manifest.model_validate(data), None
    except ValidationError as e:
        errs = [
            f"{'.'.join(str(p) for p in x['loc']) or '(root)'}: {x['msg'].removeprefix('Value error, ')}"
            for x in e.errors()
        ]
        return None, f"{MANIFEST} is invalid: " + "; ".join(errs)


def spec_problems(manifest: Manifest, ohlc: bool = False) -> list[str]:
    """Why this runtime cannot serve observations to ``manifest``'s policies (empty if it can).

    Args:
        manifest: the pack's manifest.
        ohlc: whether this runtime computes features with highs and lows (it does not:
            the Market's features use closes only).
    """
    out = []
    if manifest.format > MANIFEST_FORMAT:
        out.append(
            f"manifest format {manifest.format} is newer than this runtime reads "
            f"({MANIFEST_FORMAT}): upgrade the appliance"
        )
    elif manifest.format < MANIFEST_FORMAT:
        out.append(
            f"manifest format {manifest.format} holds single-symbol SELL/HOLD/BUY policies; "
            f"this runtime serves format {MANIFEST_FORMAT} (portfolio policies with target "
            "levels): retrain it with `invest train` or use the bundled pack"
        )
        return out
    context = manifest.observation.context
    try:
        check_context(context)
    except ValueError as e:
        return [*out, f"observation.{e}"]
    fs = manifest.feature_spec
    version, digest = runtime_spec(ohlc, context)
    if (fs.version, fs.hash, fs.ohlc) != (version, digest, ohlc):
        out.append(
            f"pack built for feature spec {fs.version} (hash {fs.hash[:12]}, "
            f"{'ohlc' if fs.ohlc else 'closes only'}), this runtime computes {version} "
            f"(hash {digest[:12]}, {'ohlc' if ohlc else 'closes only'}): "
            "retrain or install a matching pack"
        )
    elif fs.names != features.FEATURE_NAMES:
        out.append("feature_spec.names differ from this runtime's FEATURE_NAMES")
    layout = expected_layout(context)
    if manifest.observation.dim != len(layout) or manifest.observation.layout != layout:
        out.append(
            f"observation layout ({manifest.observation.dim}: "
            f"{', '.join(manifest.observation.layout)}) differs from this runtime's "
            f"({len(layout)}: {', '.join(layout)})"
        )
    elif manifest.observation.spec != OBS_SPEC_VERSION:
        out.append(
            f"observation spec {manifest.observation.spec} differs from this runtime's "
            f"{OBS_SPEC_VERSION}"
        )
    if manifest.actions != ACTIONS:
        out.append(f"actions {list(manifest.actions)} differ from {list(ACTIONS)}")
    if manifest.normalisation is None:
        out.append("no normalisation section: the observation statistics are missing")
    else:
        try:
            Normaliser.from_json(manifest.normalisation.model_dump(), context)
        except ValueError as e:
            out.append(f"normalisation: {e}")
    return out


def _check_policies(
    manifest: Manifest, read: Reader
) -> tuple[list[PolicyCheck], list[bytes], list[str]]:
    checks, blobs, problems = [], [], []
    seen: set[str] = set()
    for p in manifest.policies:
        if p.file in seen:
            problems.append(f"{p.file} is listed twice")
        seen.add(p.file)
        data = read(p.file)
        actual = None if data is None else sha256_hex(data)
        checks.append(PolicyCheck(p.file, p.sha256, actual))
        if data is None:
            problems.append(f"{p.file} is listed in the manifest but missing from the pack")
        elif actual != p.sha256:
            problems.append(
                f"{p.file} was modified: its sha256 is {actual}, the manifest says {p.sha256}"
            )
        else:
            blobs.append(data)
    return checks, blobs, problems


def _read_pack(path: Path, ohlc: bool) -> tuple[VerifyReport, Pack | None]:
    if not path.exists():
        return VerifyReport(path, None, (), (f"no model pack at {path}",)), None
    try:
        with _open_reader(path) as read:
            manifest, why = _parse_manifest(read(MANIFEST))
            if manifest is None:
                return VerifyReport(path, None, (), (str(why),)), None
            checks, blobs, problems = _check_policies(manifest, read)
    except (PolicyPackError, OSError, zipfile.BadZipFile) as e:
        return VerifyReport(path, None, (), (str(e),)), None
    problems = spec_problems(manifest, ohlc) + problems
    report = VerifyReport(path, manifest, tuple(checks), tuple(problems))
    if problems:
        return report, None
    return report, Pack(path, manifest, tuple(blobs), pack_sha(manifest))


def verify_pack(path: Path | str, *, ohlc: bool = False, check_models: bool = True) -> VerifyReport:
    """Check a pack: manifest, every policy's SHA-256, the feature spec, and the ONNX I/O.

    Args:
        path: pack directory or zip.
        ohlc: whether this runtime computes features with highs and lows.
        check_models: also open each policy with onnxruntime and check its inputs and
            outputs against the contract (names, LSTM sizes, observation and action dims).

    Returns:
        A report; ``ok`` is False with one reason per problem. It does not raise for a
        bad pack.
    """
    report, pack = _read_pack(Path(path), ohlc)
    if pack is None or not check_models:
        return report
    from invest.runtime.policy.ensemble import OnnxEnsemble  # lazy: onnxruntime

    try:
        OnnxEnsemble(pack).load()
    except PolicyPackError as e:
        return VerifyReport(report.path, report.manifest, report.policies, (str(e),))
    return report


def load_pack(path: Path | str, *, ohlc: bool = False) -> Pack:
    """Read and verify a pack (manifest, checksums, feature spec).

    The ONNX sessions are created later, at the first inference
    (:class:`~invest.runtime.policy.ensemble.OnnxEnsemble`).

    Raises:
        PolicyPackError: the pack is missing, malformed, tampered or built for another
            feature spec; the message names the file and what differs.
    """
    report, pack = _read_pack(Path(path), ohlc)
    if pack is None:
        raise PolicyPackError(f"model pack {report.path} refused: {report.reason}")
    return pack


# --------------------------------------------------------------------------- finding


def bundled_packs_dir() -> Path:
    """Packs shipped with the appliance (``invest/runtime/policy/packs``)."""
    return Path(str(resources.files("invest.runtime.policy") / "packs"))


def _is_path(ref: str) -> bool:
    return "/" in ref or ref.startswith(("~", ".")) or ref.endswith(".zip")


def resolve_pack(ref: str | Path, packs_dir: Path | None = None) -> Path:
    """Where pack ``ref`` lives.

    A path (contains '/', starts with '~' or '.', or ends in .zip) is used as given.
    A bare name is looked up as ``NAME`` or ``NAME.zip`` in ``packs_dir``, then in
    :func:`bundled_packs_dir`.

    Raises:
        PolicyPackError: nothing found; the message lists where it looked.
    """
    if isinstance(ref, Path) or _is_path(ref):
        p = Path(ref).expanduser()
        if not p.exists():
            raise PolicyPackError(f"no model pack at {p}")
        return p
    dirs = [d for d in (packs_dir, bundled_packs_dir()) if d is not None]
    for d in dirs:
        for cand in (d / ref, d / f"{ref}.zip"):
            if cand.exists():
                return cand
    where = " or ".join(str(d) for d in dirs)
    raise PolicyPackError(
        f"no model pack named {ref!r} in {where}: copy one there or give a path to a pack"
    )


def list_packs(*dirs: Path) -> list[Path]:
    """Pack directories (with a manifest.json) and zips in ``dirs``, sorted by name."""
    out: list[Path] = []
    for d in dirs:
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if (p.is_dir() and (p / MANIFEST).is_file()) or (p.is_file() and p.suffix == ".zip"):
                out.append(p)
    return out

"""The LLM variants of the options strategies: the model chooses among the rules' candidates.

:class:`LLMOptionsStrategy` wraps a rules strategy (the wheel, vertical spreads).
It asks the rules for their plan, then asks :class:`OptionsOracle` what to do
with it, and returns a plan in which

- every open is one of the rules' candidates with at most its contracts
  (:func:`~invest.runtime.options.plan.within_candidates` is checked before
  returning; a breach drops every open and says so: defence in depth), and no
  more opens than the rules' own plan held (at least one);
- every close of the rules' plan is still there (exits never wait for the LLM),
  plus the model's CLOSEs of open positions;
- when the model gives no usable decision (down, over budget, a cache miss in
  replay, garbage), the opens follow the fail policy (``block`` by default: none;
  ``allow``: the rules' opens; ``shrink:F``: each rules' open at ``floor(F x n)``).

:func:`apply_review` is the pure core. The verdict, its reason and every dropped
action go into ``plan.context["llm"]`` and ``plan.notes`` for the explanation record.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from invest.runtime.config.oracle import OracleConfig, UnavailablePolicy
from invest.runtime.options.book import OptionBook
from invest.runtime.options.plan import (
    CloseProposal,
    OpenProposal,
    OptionsContext,
    OptionsPlan,
    OptionsStrategy,
    within_candidates,
)
from invest.runtime.oracle.client.protocol import ChatMessage, Usage
from invest.runtime.oracle.options.menu import OPENING, Menu, Verb
from invest.runtime.oracle.options.parsing import ActionsParse, Decision, parse_actions, parse_type
from invest.runtime.oracle.options.prompts import spreads_messages, type_messages, wheel_messages
from invest.runtime.oracle.options.vote import vote_actions, vote_type
from invest.runtime.oracle.session import (
    OracleBase,
    OracleSession,
    Parsed,
    build_account_oracle,
)
from invest.runtime.oracle.store import Store

logger = logging.getLogger(__name__)

P = TypeVar("P", bound=Parsed)

ReviewStatus = Literal["decided", "abstained", "nothing_to_review"]

#: The rule name of a close the model asked for (the strategy's own reason).
LLM_CLOSE_RULE = "strategy"


@dataclass(frozen=True, slots=True)
class OptionsReview:
    """The model's answer on one rules plan.

    Attributes:
        menu: what it could choose from.
        status: ``decided`` (the model decided today's opens), ``abstained`` (the
            opens follow the fail policy) or ``nothing_to_review`` (no candidate and
            no closable position: the model was not asked).
        note: why it abstained, or a short summary.
        chosen_type: the pass-1 spread type (``SKIP``), or None (the wheel, or no pass 1).
        type_reason: the model's reason for it.
        decisions: the valid actions.
        dropped: each dropped action with its reason.
        usage: tokens spent (cached answers cost nothing).
        models: the models that answered.
    """

    menu: Menu
    status: ReviewStatus
    note: str = ""
    chosen_type: str | None = None
    type_reason: str = ""
    decisions: tuple[Decision, ...] = ()
    dropped: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    models: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """The explanation record's ``llm`` part."""
        return {
            "status": self.status,
            "note": self.note,
            "style": self.menu.style,
            "chosen_type": self.chosen_type,
            "type_reason": self.type_reason,
            "decisions": [d.as_dict() for d in self.decisions],
            "dropped": list(self.dropped),
            "models": list(self.models),
            "tokens": self.usage.total_tokens,
        }


class OptionsOracle(OracleBase):
    """Ask the model about an options plan. (Arguments: see :class:`OracleBase`.)"""

    def review(self, plan: OptionsPlan, ctx: OptionsContext, *, cycle_id: str) -> OptionsReview:
        """The model's decisions on ``plan``'s candidates and ``ctx``'s open positions.

        Never raises: whatever goes wrong becomes ``abstained`` with the reason, and
        the audit trail of ``cycle_id`` records prompts, answers and the outcome.
        """
        menu = Menu.build(plan, ctx.book)
        if not menu.candidates and not menu.positions:
            return OptionsReview(menu, "nothing_to_review", "no candidate and no open position")
        audit, session = self._open(cycle_id)
        try:
            audit.record("options.start", style=menu.style, candidates=sorted(menu.candidates))
            if menu.style == "wheel":
                result = self._wheel(plan, ctx, menu, session)
            else:
                result = self._spreads(plan, ctx, menu, session)
        except Exception:  # the oracle must never take the cycle down
            logger.exception("options oracle failed; the opens follow the fail policy")
            result = _review(menu, session, "abstained", "oracle error")
        try:
            audit.record("options.verdict", **result.record())
            audit.flush()
        except Exception:  # the verdict stands; the store's owner reports its own failure
            logger.exception("could not write the options verdict to the audit store")
        return result

    def _wheel(
        self, plan: OptionsPlan, ctx: OptionsContext, menu: Menu, session: OracleSession
    ) -> OptionsReview:
        messages = wheel_messages(ctx, plan, menu, self.config)
        parsed = self._sampled(
            session, "options.wheel", messages, lambda t: parse_actions(t, menu), vote_actions
        )
        return _from_actions(menu, session, parsed)

    def _sampled(
        self,
        session: OracleSession,
        purpose: str,
        messages: tuple[ChatMessage, ...],
        parse: Callable[[str], P],
        vote: Callable[[list[P]], P],
    ) -> P | None:
        """``self_consistency_k`` answers voted, the last unusable one, or None (unavailable)."""
        usable: list[P] = []
        last: P | None = None
        for k in range(self.config.self_consistency_k):
            parsed = session.ask_parsed(purpose, messages, parse, sample=k)
            if parsed is None:
                break  # unavailable: more samples would fail the same way
            last = parsed
            if parsed.fatal is None:
                usable.append(parsed)
        return vote(usable) if usable else last

    def _spreads(
        self, plan: OptionsPlan, ctx: OptionsContext, menu: Menu, session: OracleSession
    ) -> OptionsReview:
        chosen, why = None, "no candidates today"
        if menu.candidates:
            allowed = menu.kinds()
            first = self._sampled(
                session,
                "options.type",
                type_messages(ctx, plan, menu, self.config),
                lambda t: parse_type(t, allowed),
                vote_type,
            )
            if first is None:
                return _review(menu, session, "abstained", session.unavailable_note)
            if first.fatal is not None:
                return _review(menu, session, "abstained", f"spread type unusable: {first.fatal}")
            chosen, why = first.chosen, first.reason
        label = chosen.value if chosen is not None else "SKIP"
        narrowed = menu.of_kind(chosen)
        if not narrowed.candidates and not narrowed.positions:
            return _review(menu, session, "decided", f"SKIP: {why}", label, why)
        messages = spreads_messages(ctx, plan, narrowed, self.config, chosen, why)
        second = self._sampled(
            session, "options.actions", messages, lambda t: parse_actions(t, narrowed), vote_actions
        )
        review = _from_actions(menu, session, second)
        if chosen is None and review.status == "abstained":
            # pass 1 already decided to open nothing; only its CLOSE question went unanswered
            review = dataclasses.replace(review, status="decided", note=f"SKIP; {review.note}")
        return dataclasses.replace(review, chosen_type=label, type_reason=why)


def _review(
    menu: Menu,
    session: OracleSession,
    status: ReviewStatus,
    note: str,
    chosen_type: str | None = None,
    type_reason: str = "",
) -> OptionsReview:
    return OptionsReview(
        menu,
        status,
        note,
        chosen_type=chosen_type,
        type_reason=type_reason,
        usage=session.usage,
        models=session.answered_by,
    )


def _from_actions(menu: Menu, session: OracleSession, parsed: ActionsParse | None) -> OptionsReview:
    if parsed is None:
        return _review(menu, session, "abstained", session.unavailable_note)
    if parsed.fatal is not None:
        return dataclasses.replace(
            _review(menu, session, "abstained", f"answer unusable: {parsed.fatal}"),
            dropped=parsed.problems,
        )
    opens = sum(1 for d in parsed.decisions if d.verb in OPENING)
    closes = sum(1 for d in parsed.decisions if d.verb is Verb.CLOSE)
    status: ReviewStatus = "decided" if parsed.decided else "abstained"
    note = (
        f"{opens} opens, {closes} closes, {len(parsed.problems)} dropped"
        if parsed.decided
        else "no valid decision on the candidates"
    )
    return dataclasses.replace(
        _review(menu, session, status, note), decisions=parsed.decisions, dropped=parsed.problems
    )


def _policy_opens(plan: OptionsPlan, policy: UnavailablePolicy) -> tuple[OpenProposal, ...]:
    """The rules' opens as the fail policy leaves them."""
    if policy.fraction >= 1:
        return plan.opens
    kept = []
    for o in plan.opens:
        n = math.floor(o.contracts * policy.fraction) if policy.fraction > 0 else 0
        if n > 0:
            kept.append(dataclasses.replace(o, contracts=n))
    return tuple(kept)


def apply_review(
    plan: OptionsPlan, review: OptionsReview, policy: UnavailablePolicy
) -> OptionsPlan:
    """The plan the variant returns: the model's choice among the candidates, the closes kept.

    Args:
        plan: the rules' plan.
        review: the model's answer on it.
        policy: what the opens do when the model did not decide them.
    """
    menu = review.menu
    notes = [f"LLM {review.status}: {review.note}"]
    dropped = list(review.dropped)
    closes = list(plan.closes)
    for d in review.decisions:
        if d.verb is Verb.CLOSE:
            pos = menu.positions[d.ref]
            closes.append(
                CloseProposal(pos.id, LLM_CLOSE_RULE, f"LLM close: {d.reason or 'no reason given'}")
            )
    if review.status == "decided":
        cap = max(len(plan.opens), 1)
        chosen: list[OpenProposal] = []
        for d in review.decisions:
            if d.verb not in OPENING:
                continue
            if len(chosen) >= cap:
                dropped.append(f"{d.verb.value} {d.ref}: more opens than the rules' {cap}")
                continue
            c = menu.candidates[d.ref]
            why = f"{c.reason}; LLM: {d.reason}" if d.reason else c.reason
            chosen.append(dataclasses.replace(c, contracts=d.contracts, reason=why))
        opens = tuple(chosen)
    elif review.status == "abstained":
        opens = _policy_opens(plan, policy)
        notes.append(
            f"opens follow on_unavailable={policy.kind}: {len(opens)} of {len(plan.opens)}"
        )
    else:
        opens = plan.opens
    notes += [f"LLM action dropped: {p}" for p in dropped]
    out = OptionsPlan(opens, tuple(closes), plan.candidates)
    problems = within_candidates(out, plan.candidates)
    if problems:  # cannot happen through the parser; never let it through if it does
        logger.error("LLM options plan outside the rules' candidates: %s", problems)
        notes += [f"every open dropped: {p}" for p in problems]
        opens = ()
    record = {**review.record(), "dropped": dropped, "opens": [o.key for o in opens]}
    if review.status == "abstained":
        record["policy"] = policy.kind
    return OptionsPlan(
        opens=opens,
        closes=tuple(closes),
        candidates=plan.candidates,
        notes=(*plan.notes, *notes),
        context={**plan.context, "llm": record},
    )


class LLMOptionsStrategy:
    """The LLM variant of an options strategy (see the module docstring).

    Args:
        rules: the rules strategy whose plan the model chooses from.
        oracle: the account's :class:`OptionsOracle` (client stack: cache, budget, audit).
        fail_policy: what the opens do without a usable answer (default: the oracle
            config's ``on_unavailable``).
    """

    def __init__(
        self,
        rules: OptionsStrategy,
        oracle: OptionsOracle,
        fail_policy: UnavailablePolicy | None = None,
    ) -> None:
        self.rules = rules
        self.oracle = oracle
        self.policy = fail_policy or oracle.config.policy
        self.name = f"{rules.name}_llm"
        self.last_review: OptionsReview | None = None

    def plan(self, ctx: OptionsContext) -> OptionsPlan:
        """The rules' plan, then the model's choice among its candidates."""
        rules_plan = self.rules.plan(ctx)
        try:
            review = self.oracle.review(
                rules_plan, ctx, cycle_id=f"{ctx.account}:{ctx.day.isoformat()}:options"
            )
            self.last_review = review
            return apply_review(rules_plan, review, self.policy)
        except Exception:  # never lose the rules' closes to a bug on the LLM side
            logger.exception("LLM options review failed; the opens follow the fail policy")
            menu = Menu.build(rules_plan, OptionBook(ctx.account))
            return apply_review(rules_plan, OptionsReview(menu, "abstained", "error"), self.policy)

    def close(self) -> None:
        """Close the LLM client's connections."""
        self.oracle.client.close()


def build_llm_options(
    rules: OptionsStrategy,
    config: OracleConfig,
    account: str,
    home: Path,
    *,
    now: Callable[[], datetime],
    replay_only: bool = False,
    store: Store | None = None,
) -> LLMOptionsStrategy:
    """An account's LLM variant of ``rules`` over the cached, budgeted client stack.

    ``replay_only`` (``--oracle replay``, backtests) never calls the model: a prompt
    not in the cache counts as unavailable, and the opens follow the fail policy.
    """
    oracle = build_account_oracle(
        OptionsOracle, config, account, home, now=now, replay_only=replay_only, store=store
    )
    return LLMOptionsStrategy(rules, oracle)

"""``answer_question``: the one entry point for answering, and the router behind ``auto``.

Modes: ``fast`` runs ``[answer] strategy`` (direct by default), ``slow`` runs
``[answer] slow_strategy``, ``auto`` runs the fast pass and escalates to a slow strategy
only when cheap signals say it is worth it and the budget allows:

- question features: arithmetic cues, multi-hop cues, length (``signals.question_signals``)
- retrieval: margin between the top two candidates
- the fast pass: grounding score from the programmatic verifier, refusal

Thresholds come from ``[answer] router_thresholds`` (fitted by ``ragloop route calibrate``),
over ``DEFAULT_THRESHOLDS``. The decision and its signals are in
``Answer.metadata["router"]``.
"""

from __future__ import annotations

from ragloop.answer.base import Budget
from ragloop.answer.grounded import Tally, refusal, retrieve, weak_support
from ragloop.answer.signals import answer_signals, question_signals, retrieval_signals
from ragloop.answer.strategies import build_strategy
from ragloop.answer.verify import GroundingVerifier
from ragloop.config import AnswerSettings
from ragloop.errors import ConfigError
from ragloop.records import Answer

# escalate when grounding/margin fall below, or arithmetic/multihop/length reach, these
DEFAULT_THRESHOLDS = {"grounding_below": 0.5, "margin_below": 0.0, "arithmetic_at": 0.5,
                      "multihop_at": 0.5, "length_at": 0.0}
# rough cost of a slow strategy in fast passes, to check the budget before escalating
COST_IN_FAST_PASSES = {"cot": 2.0, "decompose": 4.0, "refine": 2.0}
MODES = ("fast", "slow", "auto")


def budget_of(settings: AnswerSettings) -> Budget:
    return Budget(max_latency_s=settings.max_latency_s,
                  max_tokens=settings.max_tokens_per_query)


def answer_question(question: str, *, settings: AnswerSettings, retriever, llm,
                    mode: str | None = None, strategy: str | None = None, filters=None,
                    budget: Budget | None = None) -> Answer:
    """Answer ``question`` with citations. ``strategy`` forces one strategy by name;
    otherwise ``mode`` (default ``[answer] mode``) decides. ``budget`` defaults to
    ``[answer] max_latency_s`` / ``max_tokens_per_query``."""
    mode = mode or settings.mode
    budget = budget or budget_of(settings)
    if strategy:
        return build_strategy(strategy, settings, filters=filters).run(
            question, retriever, llm, budget)
    if mode == "fast":
        return build_strategy(settings.strategy, settings, filters=filters).run(
            question, retriever, llm, budget)
    if mode == "slow":
        return build_strategy(settings.slow_strategy, settings, filters=filters).run(
            question, retriever, llm, budget)
    if mode == "auto":
        return Router(settings, filters=filters).run(question, retriever, llm, budget)
    raise ConfigError(f"unknown answer mode '{mode}'; choose from {', '.join(MODES)}",
                      key="answer.mode")


class Router:
    name = "auto"

    def __init__(self, settings: AnswerSettings, *, filters=None,
                 thresholds: dict[str, float] | None = None):
        self.settings = settings
        self.filters = filters
        self.thresholds = {**DEFAULT_THRESHOLDS, **settings.router_thresholds,
                           **(thresholds or {})}
        self.verifier = GroundingVerifier()

    def decide(self, signals: dict[str, float]) -> tuple[bool, str]:
        """(escalate?, why) from the signals; the first rule that fires names the reason."""
        t = self.thresholds
        rules = (
            ("arithmetic", signals.get("arithmetic", 0) >= t["arithmetic_at"] > 0),
            ("multihop", signals.get("multihop", 0) >= t["multihop_at"] > 0),
            ("long question", signals.get("length", 0) >= t["length_at"] > 0),
            ("weak grounding", signals.get("grounding", 1) < t["grounding_below"]),
            ("small retrieval margin", signals.get("margin", 1) < t["margin_below"]),
        )
        for reason, fired in rules:
            if fired:
                return True, reason
        return False, "fast pass looks sound"

    def slow_strategy_for(self, signals: dict[str, float], reason: str) -> str:
        if reason == "multihop":
            return "decompose"
        return self.settings.slow_strategy

    def run(self, question, retriever, llm, budget: Budget = Budget()) -> Answer:
        tally = Tally(budget)
        candidates = retrieve(question, retriever, llm, self.settings, self.filters)
        why_refuse = weak_support(candidates, self.settings)
        if why_refuse:
            return refusal(question, candidates, why_refuse, strategy=self.settings.strategy,
                           tally=tally)
        fast = build_strategy(self.settings.strategy, self.settings, filters=self.filters)
        fast_answer = fast.answer(question, candidates, llm, tally, retriever=retriever)
        grounding = self.verifier.check(question, fast_answer.text, candidates, llm).score
        signals = {**question_signals(question), **retrieval_signals(candidates),
                   **answer_signals(fast_answer, grounding)}
        escalate, reason = self.decide(signals)
        chosen = self.slow_strategy_for(signals, reason) if escalate else fast.name
        if escalate:
            fast_latency = max(tally.elapsed, 1e-3)
            factor = COST_IN_FAST_PASSES.get(chosen, float(self.settings.samples))
            if not tally.can_afford(fast_latency * factor, tally.tokens * int(factor)):
                escalate, chosen, reason = False, fast.name, f"budget (wanted: {reason})"
        route = {"mode": "auto", "signals": signals, "escalated": escalate, "reason": reason,
                 "chosen": chosen, "thresholds": self.thresholds}
        if not escalate:
            return fast_answer.model_copy(update={
                "metadata": {**fast_answer.metadata, "router": route},
                "latency_s": tally.elapsed})
        slow = build_strategy(chosen, self.settings, filters=self.filters)
        answer = slow.answer(question, candidates, llm, tally, retriever=retriever)
        return answer.model_copy(update={"metadata": {**answer.metadata, "router": route}})

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
from ragloop.models.llm import TextSink
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
                    budget: Budget | None = None, instruction: str = "",
                    on_text: TextSink | None = None) -> Answer:
    """Answer ``question`` with citations. ``strategy`` forces one strategy by name;
    otherwise ``mode`` (default ``[answer] mode``) decides. ``budget`` defaults to
    ``[answer] max_latency_s`` / ``max_tokens_per_query``. ``instruction`` (e.g. a label
    instruction) goes into the answer prompt only: retrieval runs on ``question``.
    ``on_text`` receives the answer text as the model writes it, from strategies whose
    one draft is the answer (``direct``); ``auto`` never streams a pass it may replace."""
    mode = mode or settings.mode
    budget = budget or budget_of(settings)
    if mode not in MODES and not strategy:
        raise ConfigError(f"unknown answer mode '{mode}'; choose from {', '.join(MODES)}",
                          key="answer.mode")
    if strategy or mode != "auto":
        name = strategy or (settings.strategy if mode == "fast" else settings.slow_strategy)
        runner = build_strategy(name, settings, filters=filters, instruction=instruction,
                                on_text=on_text)
    else:
        runner = Router(settings, filters=filters, instruction=instruction)
    answer = runner.run(question, retriever, llm, budget)
    if instruction:
        answer = answer.model_copy(update={"metadata": {**answer.metadata,
                                                        "instruction": instruction}})
    return answer


class Router:
    name = "auto"

    def __init__(self, settings: AnswerSettings, *, filters=None,
                 thresholds: dict[str, float] | None = None, instruction: str = ""):
        self.settings = settings
        self.filters = filters
        self.instruction = instruction
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
        with Tally.open(budget) as tally:
            return self._run(question, retriever, llm, tally)

    def _strategy(self, name: str):
        return build_strategy(name, self.settings, filters=self.filters,
                              instruction=self.instruction)

    def _run(self, question, retriever, llm, tally: Tally) -> Answer:
        candidates = retrieve(question, retriever, llm, self.settings, self.filters,
                              extra_prompt=self.instruction)
        why_refuse = weak_support(candidates, self.settings)
        if why_refuse:
            return refusal(question, candidates, why_refuse, strategy=self.settings.strategy,
                           tally=tally)
        fast = self._strategy(self.settings.strategy)
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
        answer = self._strategy(chosen).answer(question, candidates, llm, tally,
                                               retriever=retriever)
        return answer.model_copy(update={"metadata": {**answer.metadata, "router": route}})

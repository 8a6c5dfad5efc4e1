"""``answer_question``: the one entry point for answering, and the router behind ``auto``.

Modes: ``fast`` runs ``[answer] strategy`` (direct by default), ``slow`` runs
``[answer] slow_strategy``, ``auto`` runs the fast pass and escalates to a slow strategy
only when cheap signals say it is worth it and the budget allows:

- question features: arithmetic cues, multi-hop cues, length (``signals.question_signals``)
- retrieval: margin between the top two candidates
- the fast pass: grounding score from the programmatic verifier, refusal

Below every generated answer lies a grounded floor, the ``extract`` strategy (sentences of
the retrieved chunks, verbatim, no model call). ``auto`` answers with it instead of the
fast pass when the pass fails the grounding check, when the model refuses although a
sentence matches the question, when the pass answers the question less well than the best
sentence does (relevance: question-term coverage and embedding similarity, the same measure
for both texts, ``extract.relevance``), or when the budget cannot pay for a generation at
all (prompt plus answer tokens over ``max_tokens_per_query``, or the measured mean call
latency over what is left of ``max_latency_s``).

Thresholds come from ``[answer] router_thresholds`` (fitted by ``ragloop route calibrate``),
over ``DEFAULT_THRESHOLDS``. The decision and its signals are in
``Answer.metadata["router"]``.
"""

from __future__ import annotations

from ragloop.answer.base import Budget
from ragloop.answer.grounded import Tally, refusal, retrieve, weak_support
from ragloop.answer.prompt import answer_messages
from ragloop.answer.signals import answer_signals, question_signals, retrieval_signals
from ragloop.answer.strategies import build_strategy
from ragloop.answer.strategies.extract import ExtractStrategy, relevance
from ragloop.answer.verify import GroundingVerifier
from ragloop.config import AnswerSettings
from ragloop.errors import ConfigError
from ragloop.models.llm import TextSink
from ragloop.records import Answer

# escalate when grounding/margin fall below, or arithmetic/multihop/length reach, these
DEFAULT_THRESHOLDS = {"grounding_below": 0.5, "margin_below": 0.0, "arithmetic_at": 0.5,
                      "multihop_at": 0.5, "length_at": 0.0,
                      # the floor replaces a generated answer less relevant than this much
                      # below the extracted one (relevance is 0..1)
                      "relevance_margin": 0.1}
# rough cost of a slow strategy in fast passes, to check the budget before escalating
COST_IN_FAST_PASSES = {"cot": 2.0, "decompose": 4.0, "refine": 2.0}
MODES = ("fast", "slow", "auto")
# rules that fire on the question alone: the slow strategy runs before any floor check
QUESTION_RULES = ("arithmetic", "multihop", "long question")


def budget_of(settings: AnswerSettings) -> Budget:
    return Budget(max_latency_s=settings.max_latency_s,
                  max_tokens=settings.max_tokens_per_query)


def answer_question(question: str, *, settings: AnswerSettings, retriever, llm,
                    mode: str | None = None, strategy: str | None = None, filters=None,
                    budget: Budget | None = None, instruction: str = "",
                    on_text: TextSink | None = None, embedder=None) -> Answer:
    """Answer ``question`` with citations. ``strategy`` forces one strategy by name;
    otherwise ``mode`` (default ``[answer] mode``) decides. ``budget`` defaults to
    ``[answer] max_latency_s`` / ``max_tokens_per_query``. ``instruction`` (e.g. a label
    instruction) goes into the answer prompt only: retrieval runs on ``question``.
    ``on_text`` receives the answer text as the model writes it, from strategies whose
    one draft is the answer (``direct``); ``auto`` never streams a pass it may replace.
    ``embedder`` (the project's) is used by strategies that score text themselves
    (``extract``, and the router's floor)."""
    mode = mode or settings.mode
    budget = budget or budget_of(settings)
    if mode not in MODES and not strategy:
        raise ConfigError(f"unknown answer mode '{mode}'; choose from {', '.join(MODES)}",
                          key="answer.mode")
    if strategy or mode != "auto":
        name = strategy or (settings.strategy if mode == "fast" else settings.slow_strategy)
        runner = build_strategy(name, settings, filters=filters, instruction=instruction,
                                on_text=on_text, embedder=embedder)
    else:
        runner = Router(settings, filters=filters, instruction=instruction, embedder=embedder)
    answer = runner.run(question, retriever, llm, budget)
    if instruction:
        answer = answer.model_copy(update={"metadata": {**answer.metadata,
                                                        "instruction": instruction}})
    return answer


class Router:
    name = "auto"

    def __init__(self, settings: AnswerSettings, *, filters=None,
                 thresholds: dict[str, float] | None = None, instruction: str = "",
                 embedder=None):
        self.settings = settings
        self.filters = filters
        self.instruction = instruction
        self.embedder = embedder
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

    def generation_unaffordable(self, question, candidates, llm, tally) -> str | None:
        """Why the budget cannot pay for one generated answer, or None."""
        budget = tally.budget
        usage = getattr(llm, "usage", None)
        measured = usage is not None and usage.cache_misses > 0
        if budget.max_tokens:
            messages = answer_messages(question, candidates, style=self.settings.citation_style,
                                       instruction=self.instruction)
            # the answer's length: as measured on this client's calls so far, else the cap
            answer_tokens = (min(self.settings.max_tokens,
                                 round(usage.completion_tokens / usage.cache_misses))
                             if measured else self.settings.max_tokens)
            needed = sum(llm.count_tokens(m.content) for m in messages) + answer_tokens
            if tally.tokens + needed > budget.max_tokens:
                return (f"a generation needs ~{needed} tokens, the budget has "
                        f"{budget.max_tokens - tally.tokens} left")
        if budget.max_latency_s and measured:
            per_call = usage.latency_s / usage.cache_misses
            left = budget.max_latency_s - tally.elapsed
            if per_call > left:
                return f"a generation takes ~{per_call:.1f}s, the budget has {left:.1f}s left"
        return None

    def floor_reason(self, signals: dict[str, float], passed_grounding: bool) -> str | None:
        """Why the extracted answer should replace the fast pass, or None."""
        if signals["refused"]:
            return "the generator refused"
        if not passed_grounding:
            return "the generated answer failed the grounding check"
        if signals["relevance"] < signals["extract_relevance"] - self.thresholds[
                "relevance_margin"]:
            return "the generated answer is less relevant than the extracted one"
        return None

    def run(self, question, retriever, llm, budget: Budget = Budget()) -> Answer:
        with Tally.open(budget) as tally:
            return self._run(question, retriever, llm, tally)

    def _strategy(self, name: str):
        return build_strategy(name, self.settings, filters=self.filters,
                              instruction=self.instruction, embedder=self.embedder)

    def _run(self, question, retriever, llm, tally: Tally) -> Answer:
        candidates = retrieve(question, retriever, llm, self.settings, self.filters,
                              extra_prompt=self.instruction)
        why_refuse = weak_support(candidates, self.settings)
        if why_refuse:
            return refusal(question, candidates, why_refuse, strategy=self.settings.strategy,
                           tally=tally)
        floor = ExtractStrategy(self.settings, filters=self.filters, embedder=self.embedder)
        tight = self.generation_unaffordable(question, candidates, llm, tally)
        if tight:
            extracted = floor.answer(question, candidates, llm, tally)
            route = {"mode": "auto", "signals": retrieval_signals(candidates),
                     "escalated": False, "floor": True, "reason": f"budget: {tight}",
                     "chosen": floor.name, "thresholds": self.thresholds}
            return extracted.model_copy(update={"metadata": {**extracted.metadata,
                                                             "router": route}})
        fast = self._strategy(self.settings.strategy)
        fast_answer = fast.answer(question, candidates, llm, tally, retriever=retriever)
        grounding = self.verifier.check(question, fast_answer.text, candidates, llm).score
        signals = {**question_signals(question), **retrieval_signals(candidates),
                   **answer_signals(fast_answer, grounding)}
        escalate, reason = self.decide(signals)
        route = {"mode": "auto", "signals": signals, "escalated": False, "floor": False,
                 "reason": reason, "chosen": fast.name, "thresholds": self.thresholds}
        # Unless the question itself calls for more compute, an answer that fails the
        # checks gets the grounded floor: resampling the same model is no more grounded.
        if reason not in QUESTION_RULES:
            floored = self.apply_floor(question, fast_answer, candidates, llm, tally, floor,
                                       route)
            if floored is not None:
                return floored
        chosen = self.slow_strategy_for(signals, reason) if escalate else fast.name
        if escalate:
            fast_latency = max(tally.elapsed, 1e-3)
            factor = COST_IN_FAST_PASSES.get(chosen, float(self.settings.samples))
            if not tally.can_afford(fast_latency * factor, tally.tokens * int(factor)):
                escalate, chosen, reason = False, fast.name, f"budget (wanted: {reason})"
        route.update(escalated=escalate, reason=reason, chosen=chosen)
        if not escalate:
            # not yet checked: a question rule fired but the budget kept the fast pass
            if "floor_checks" not in route and "arithmetic" not in reason:
                floored = self.apply_floor(question, fast_answer, candidates, llm, tally,
                                           floor, route)
                if floored is not None:
                    return floored
            return fast_answer.model_copy(update={
                "metadata": {**fast_answer.metadata, "router": route},
                "latency_s": tally.elapsed})
        answer = self._strategy(chosen).answer(question, candidates, llm, tally,
                                               retriever=retriever)
        # A computed answer (arithmetic) is not in the documents, so no sentence can stand
        # in for it; every other generated answer must beat the grounded floor.
        if reason != "arithmetic":
            floored = self.apply_floor(question, answer, candidates, llm, tally, floor, route)
            if floored is not None:
                return floored
        return answer.model_copy(update={"metadata": {**answer.metadata, "router": route}})

    def apply_floor(self, question, answer, candidates, llm, tally, floor, route
                    ) -> Answer | None:
        """The extracted answer, when it should replace ``answer`` (see ``floor_reason``);
        the checks' signals are added to ``route`` either way."""
        verdict = self.verifier.check(question, answer.text, candidates, llm)
        extracted = floor.answer(question, candidates, llm, tally)
        generated, extract = relevance(question, [answer.text, extracted.text], self.embedder)
        checks = {"refused": float(answer.refused), "grounding": round(verdict.score, 4),
                  "relevance": round(generated, 4), "extract_relevance": round(extract, 4)}
        route["floor_checks"] = checks
        why = None if extracted.refused else self.floor_reason(checks, verdict.passed)
        if why is None:
            return None
        route.update(floor=True, escalated=False, reason=why, chosen=floor.name,
                     generated=answer.text, generated_by=answer.strategy)
        return extracted.model_copy(update={"metadata": {**extracted.metadata,
                                                         "router": route}})

"""The router behind ``auto`` (``ragloop.answer.answerer`` is the entry point).

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

from collections.abc import Callable

from ragloop.answer.grounded import Tally, refusal, retrieve, weak_support
from ragloop.answer.history import format_history, prompt_extra
from ragloop.answer.prompt import answer_messages
from ragloop.answer.signals import answer_signals, question_signals, retrieval_signals
from ragloop.answer.strategies.extract import ExtractStrategy, relevance
from ragloop.answer.verify import GroundingVerifier
from ragloop.config import AnswerSettings
from ragloop.records import Answer, AnswerRequest, Budget

# escalate when grounding/margin fall below, or arithmetic/multihop/length reach, these
DEFAULT_THRESHOLDS = {"grounding_below": 0.5, "margin_below": 0.0, "arithmetic_at": 0.5,
                      "multihop_at": 0.5, "length_at": 0.0,
                      # the floor replaces a generated answer less relevant than this much
                      # below the extracted one (relevance is 0..1)
                      "relevance_margin": 0.1}
# rough cost of a slow strategy in fast passes, to check the budget before escalating
COST_IN_FAST_PASSES = {"cot": 2.0, "decompose": 4.0, "refine": 2.0}
# rules that fire on the question alone: the slow strategy runs before any floor check
QUESTION_RULES = ("arithmetic", "multihop", "long question")


def escalation(signals: dict[str, float], thresholds: dict[str, float]) -> tuple[bool, str]:
    """(escalate?, why) from the signals; the first rule that fires names the reason."""
    t = thresholds
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


class Router:
    """``auto``: built once, like a strategy, from its parts; ``strategies`` gives the
    strategy a name stands for (the answerer's, so every strategy is built once)."""

    name = "auto"

    def __init__(self, settings: AnswerSettings, *, retriever, llm, embedder=None,
                 strategies: Callable[[str], object],
                 thresholds: dict[str, float] | None = None):
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self.embedder = embedder
        self.strategies = strategies
        self.thresholds = {**DEFAULT_THRESHOLDS, **settings.router_thresholds,
                           **(thresholds or {})}
        self.verifier = GroundingVerifier()
        self.floor = ExtractStrategy(settings, retriever=retriever, llm=llm, embedder=embedder)

    def decide(self, signals: dict[str, float]) -> tuple[bool, str]:
        return escalation(signals, self.thresholds)

    def slow_strategy_for(self, signals: dict[str, float], reason: str) -> str:
        if reason == "multihop":
            return "decompose"
        return self.settings.slow_strategy

    def generation_unaffordable(self, request: AnswerRequest, candidates, tally) -> str | None:
        """Why the budget cannot pay for one generated answer, or None."""
        budget = tally.budget
        llm = self.llm
        usage = getattr(llm, "usage", None)
        measured = usage is not None and usage.cache_misses > 0
        if budget.max_tokens:
            messages = answer_messages(request.question, candidates,
                                       style=self.settings.citation_style,
                                       instruction=request.instruction,
                                       history=format_history(request.conversation))
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

    def run(self, request: AnswerRequest) -> Answer:
        with Tally.open(request.budget or Budget()) as tally:
            # the passes may be replaced, so none of them streams (see answer.stream)
            return self._run(request.model_copy(update={"on_text": None}), tally)

    def _run(self, request: AnswerRequest, tally: Tally) -> Answer:
        question = request.question
        candidates = retrieve(request.query, self.retriever, self.llm, self.settings,
                              request.filters, extra_prompt=prompt_extra(request))
        why_refuse = weak_support(candidates, self.settings)
        if why_refuse:
            return refusal(question, candidates, why_refuse, strategy=self.settings.strategy,
                           tally=tally)
        floor = self.floor
        tight = self.generation_unaffordable(request, candidates, tally)
        if tight:
            extracted = floor.answer(request, candidates, tally)
            route = {"mode": "auto", "signals": retrieval_signals(candidates),
                     "escalated": False, "floor": True, "reason": f"budget: {tight}",
                     "chosen": floor.name, "thresholds": self.thresholds}
            return extracted.model_copy(update={"metadata": {**extracted.metadata,
                                                             "router": route}})
        fast = self.strategies(self.settings.strategy)
        fast_answer = fast.answer(request, candidates, tally)
        grounding = self.verifier.check(question, fast_answer.text, candidates, self.llm).score
        signals = {**question_signals(question), **retrieval_signals(candidates),
                   **answer_signals(fast_answer, grounding)}
        escalate, reason = self.decide(signals)
        route = {"mode": "auto", "signals": signals, "escalated": False, "floor": False,
                 "reason": reason, "chosen": fast.name, "thresholds": self.thresholds}
        # Unless the question itself calls for more compute, an answer that fails the
        # checks gets the grounded floor: resampling the same model is no more grounded.
        if reason not in QUESTION_RULES:
            floored = self.apply_floor(request, fast_answer, candidates, tally, route)
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
                floored = self.apply_floor(request, fast_answer, candidates, tally, route)
                if floored is not None:
                    return floored
            return fast_answer.model_copy(update={
                "metadata": {**fast_answer.metadata, "router": route},
                "latency_s": tally.elapsed})
        answer = self.strategies(chosen).answer(request, candidates, tally)
        # A computed answer (arithmetic) is not in the documents, so no sentence can stand
        # in for it; every other generated answer must beat the grounded floor.
        if reason != "arithmetic":
            floored = self.apply_floor(request, answer, candidates, tally, route)
            if floored is not None:
                return floored
        return answer.model_copy(update={"metadata": {**answer.metadata, "router": route}})

    def apply_floor(self, request: AnswerRequest, answer: Answer, candidates, tally, route
                    ) -> Answer | None:
        """The extracted answer, when it should replace ``answer`` (see ``floor_reason``);
        the checks' signals are added to ``route`` either way."""
        question, floor = request.question, self.floor
        verdict = self.verifier.check(question, answer.text, candidates, self.llm)
        extracted = floor.answer(request, candidates, tally)
        # a follow-up is measured against what was searched for it (its standalone form)
        generated, extract = relevance(request.query_text, [answer.text, extracted.text],
                                       self.embedder)
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

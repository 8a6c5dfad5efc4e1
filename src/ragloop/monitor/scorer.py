"""Score one live trace: the checks that need no model first (``monitor.checks``), then the
likelihood faithfulness judge where the judge model can score text, then — for the share of
traces ``[monitor] judge_rate`` picks, while the day's budget lasts — the LLM verdict
judges. A failed or timed-out model call is stored as such ("error" / "timeout", with the
message), never as a score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ragloop.config import MonitorSettings
from ragloop.errors import ModelError, ModelTimeoutError
from ragloop.evals.judges import applies, get_spec, run_judge
from ragloop.evals.likelihood import GAIN_METRIC, VERDICT_METRIC, can_score, context_gain
from ragloop.evals.scoring import context_text
from ragloop.monitor.checks import candidates_of, cheap_scores, refused, sampled
from ragloop.records import OnlineScore, Trace


def failure_status(error: str | BaseException) -> str:
    name = error if isinstance(error, str) else type(error).__name__
    return "timeout" if str(name).startswith(ModelTimeoutError.__name__) else "error"


@dataclass
class TraceScorer:
    settings: MonitorSettings
    llm: Any = None  # an LLMClient (or monitor.gated.GatedLLM); None: no model checks
    version: str = "v1"  # judge prompt version ([eval] judge_prompt_version)
    # the likelihood verdict's fitted cut for a judge model id (None: not calibrated)
    threshold_for: Callable[[str], float | None] = lambda model: None
    # LLM judge calls still allowed today
    budget_left: Callable[[], int] = lambda: 0
    _can_score: bool | None = field(default=None, repr=False)

    def score(self, trace: Trace, *, now: datetime | None = None) -> list[OnlineScore]:
        now = now or datetime.now(UTC)
        out = cheap_scores(trace, now=now)
        if self.llm is None or refused(trace) or not trace.answer.strip():
            return out
        context = context_text([c.chunk.text for c in candidates_of(trace)])
        if self.settings.likelihood and context.strip() and self._scores_text():
            out += self._likelihood(trace, context, now)
        if self.settings.judges and sampled(trace.id, self.settings.judge_rate, "judge"):
            out += self._judges(trace, context, now)
        return out

    def _scores_text(self) -> bool:
        if self._can_score is None:
            self._can_score = can_score(self.llm)
        return self._can_score

    def _row(self, trace: Trace, metric: str, value: float | None, check: str, now: datetime,
             *, status: str = "ok", detail: str = "") -> OnlineScore:
        return OnlineScore(trace_id=trace.id, metric=metric, value=value, status=status,
                           detail=detail[:600], check=check, model=self.llm.model_id,
                           created=now)

    def _likelihood(self, trace: Trace, context: str, now: datetime) -> list[OnlineScore]:
        try:
            gain = context_gain(self.llm, question=trace.question, answer=trace.answer,
                                context=context)
        except ModelError as err:
            why = f"{type(err).__name__}: {err}"
            return [self._row(trace, GAIN_METRIC, None, "likelihood", now,
                              status=failure_status(err), detail=why)]
        if gain is None:
            return [self._row(trace, GAIN_METRIC, None, "likelihood", now, status="skipped",
                              detail="no answer text to score")]
        out = [self._row(trace, GAIN_METRIC, gain, "likelihood", now,
                         detail=f"context gain {gain:+.2f} nats/token")]
        cut = self.threshold_for(self.llm.model_id)
        if cut is None:
            out.append(self._row(trace, VERDICT_METRIC, None, "likelihood", now,
                                 status="skipped", detail="no fitted threshold for this judge "
                                 "model: run `ragloop eval calibrate`"))
        else:
            out.append(self._row(trace, VERDICT_METRIC, float(gain >= cut), "likelihood", now,
                                 detail=f"gain {gain:+.2f} vs threshold {cut:+.2f}"))
        return out

    def _judges(self, trace: Trace, context: str, now: datetime) -> list[OnlineScore]:
        out = []
        left = self.budget_left()
        for name in self.settings.judges:
            metric = f"judge_{name}"
            if not applies(name, context=context, version=self.version):
                continue
            if left <= 0:
                out.append(self._row(trace, metric, None, "judge", now, status="skipped",
                                     detail=f"the day's budget of {self.settings.judge_daily_calls}"
                                     " judge calls ([monitor] judge_daily_calls) is spent"))
                continue
            left -= 1
            result = run_judge(self.llm, name, question=trace.question, answer=trace.answer,
                               context=context, version=self.version)
            if result.error:
                out.append(self._row(trace, metric, None, "judge", now,
                                     status=failure_status(result.error), detail=result.error))
            else:
                passed = result.verdict == get_spec(name, self.version).verdicts[0]
                out.append(self._row(trace, metric, float(passed), "judge", now,
                                     detail=f"{result.verdict}: {result.reason}"))
        return out


def start_of_day(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def project_scorer(settings, data_dir, llm, scores) -> TraceScorer:
    """The scorer ``[monitor]`` describes for a project: the likelihood threshold its
    calibration (or the shipped one) fitted for the judge model, the judge budget counted
    from the stored scores of the day (so a restart does not refill it)."""
    from functools import cache

    from ragloop.evals.judge_agreement import likelihood_threshold

    version = settings.eval.judge_prompt_version

    @cache
    def threshold_for(model: str) -> float | None:
        return likelihood_threshold(data_dir, model, version)

    def budget_left() -> int:
        spent = scores.calls_since("judge", start_of_day())
        return settings.monitor.judge_daily_calls - spent

    return TraceScorer(settings.monitor, llm, version=version, threshold_for=threshold_for,
                       budget_left=budget_left)

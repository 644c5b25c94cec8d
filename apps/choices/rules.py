"""What one choice write does to the stored choice (spec 1.6, 6). Pure: no Django import; used by the one-by-one
write (choice_apply) and the pipeline's bulk path (choices_apply_bulk) alike, so both decide the same way."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChoiceDecision:
    log: bool  # append a change-log entry for the write
    applied: bool  # the stored choice takes the write's value and time
    advance_ts: bool  # only the stored `$choice_ts` moves (a repeated signal, newer: no new value, no entry)


def choice_decide(
    stored: tuple[int, bool] | None, *, choice_ts: int, acceptance_value: bool, signal: bool
) -> ChoiceDecision:
    """`stored` is the current (`$choice_ts`, value), None when there is no choice yet.

    Consent is decided by `$choice_ts`: a write older than the stored choice is logged, not applied. A consent signal
    (spec 6) that would not change the stored value writes no entry, so a library repeating the same preferences on
    every event does not flood the log; a newer one still moves the stored time forward, so that the latest
    `$choice_ts` keeps deciding against writes that arrive later but are older."""
    if stored is None:
        return ChoiceDecision(log=True, applied=True, advance_ts=False)
    stored_ts, stored_value = stored
    if signal and acceptance_value == stored_value:
        return ChoiceDecision(log=False, applied=False, advance_ts=choice_ts > stored_ts)
    return ChoiceDecision(log=True, applied=choice_ts >= stored_ts, advance_ts=False)

"""The guardrails as a catalog: every named guardrail Earnest enforces, where, and the proof.

The one source of truth for `earnest guardrails` (text and `--json`) and for
docs/guardrails.md, which is generated from it (`earnest guardrails --markdown`). Each
guardrail names the stages that enforce it, the code that does (`module:qualified.name`)
and the tests that attack it (pytest node ids). tests/unit/program/test_guardrails_catalog.py
resolves every piece of code by import, collects every test with pytest, fails when a
guardrail has neither, and fails when a launch check, a nightly rule or a decision reason
the product defines is in no guardrail.

Pure: stdlib only; it imports nothing it names (the checks do that).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

SCHEMA = "earnest.guardrails/1"

# Where a guardrail can be enforced, in the order a change travels.
STAGES = {
    "validate": "`earnest validate`: the launch checks, before anything is stored",
    "push": "`earnest push` and the operator's commands: validate, then write, audited",
    "decide": "`POST /decide`: every request, at serve time",
    "events": "`POST /events`: every exposure and conversion, at ingest",
    "consent": "`POST /consent`: every consent change a CMP sends",
    "nightly": "the nightly run: the report, and the guardrails it applies",
}


@dataclass(frozen=True, slots=True)
class Guardrail:
    """One named guardrail: what it promises, where it is enforced, which tests prove it.

    `covers` lists the product's own names for what the guardrail is made of: launch
    checks (`earnest validate`'s `[check]`), nightly rules (an audit entry's `rule`) and
    decision reasons, so a new check, rule or reason without a guardrail is caught.
    """

    id: str
    name: str
    rule: str
    stages: tuple[str, ...]
    enforced_by: tuple[str, ...]
    tests: tuple[str, ...]
    docs: str
    covers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "rule": self.rule,
            "stages": list(self.stages),
            "enforced_by": list(self.enforced_by),
            "tests": list(self.tests),
            "docs": self.docs,
            "covers": list(self.covers),
        }


CATALOG: tuple[Guardrail, ...] = (
    Guardrail(
        id="written_plan",
        name="A written plan or no launch",
        rule="An experience launches only with a measurement plan: a hypothesis, a primary "
        "metric, the minimum detectable effect and the minimum units per arm. `earnest "
        "validate` names every missing piece; `earnest push` then writes nothing at all.",
        stages=("validate", "push"),
        enforced_by=(
            "earnest.experiences.models:MeasurementPlan",
            "earnest.experiences.validation:validate_all",
            "earnest_cli.experiences_cmd:cmd_push",
        ),
        tests=(
            "tests/unit/experiences/test_validation.py::test_every_missing_launch_field_is_reported_at_once",
            "tests/unit/experiences/test_validation.py::test_a_complete_experience_may_launch",
            "tests/e2e/test_cli.py::test_validate_reports_every_problem_in_every_file",
            "tests/integration/test_push_launch_checks.py::test_an_experience_without_a_measurement_plan_stops_the_whole_push",
        ),
        docs="docs/experiences.md#validate",
        covers=("measurement_plan",),
    ),
    Guardrail(
        id="strong_default",
        name="A fallback for every variant set",
        rule="Every experience names its strong default. Every answer but `personalized` "
        "serves it (holdout, global holdout, no consent, identity uncertain, not in the "
        "audience), so no visitor ever sees a broken or half-personalized page.",
        stages=("validate", "decide"),
        enforced_by=(
            "earnest.experiences.models:Experience",
            "earnest.decide.engine:DEFAULT_REASONS",
            "earnest.decide.engine:compile_experience",
        ),
        tests=(
            "tests/e2e/test_cli.py::test_validate_reports_every_problem_in_every_file",
            "tests/unit/decide/test_engine.py::test_a_visitor_outside_the_audience_gets_the_default",
            "tests/unit/decide/test_engine.py::test_holdout_units_get_the_default_in_the_configured_share",
        ),
        docs="docs/experiences.md",
        covers=("strong_default", "not_in_audience"),
    ),
    Guardrail(
        id="holdout",
        name="Lift only against a holdout",
        rule="Every live experience keeps a share 0 < h < 1 of its eligible audience on the "
        "default, chosen by a hash independent of the variant split, and a program-wide "
        "global holdout gets every default. The nightly run measures a variant's lift "
        "against its own holdout only, and the program's against the global holdout.",
        stages=("validate", "decide", "nightly"),
        enforced_by=(
            "earnest.experiences.models:Experience",
            "earnest.decide.engine:Engine.decide",
            "earnest.report.stats:compare",
        ),
        tests=(
            "tests/e2e/test_cli.py::test_validate_reports_every_problem_in_every_file",
            "tests/unit/decide/test_engine.py::test_holdout_units_get_the_default_in_the_configured_share",
            "tests/unit/decide/test_engine.py::test_the_global_holdout_gets_every_default_and_only_its_share",
            "tests/unit/report/test_build.py::test_program_lift_and_coverage",
            "tests/integration/test_nightly_report.py::test_known_effects_give_known_verdicts_and_the_loser_is_paused_with_an_audit_entry",
        ),
        docs="docs/statistics.md#lift-of-a-variant-against-its-own-holdout",
        covers=("holdout_required", "holdout", "global_holdout"),
    ),
    Guardrail(
        id="named_owner",
        name="An owner, or retired",
        rule="Every experience names a person (an email) who owns it: `earnest validate` "
        "refuses one without, and the nightly run retires a live or paused experience "
        "that has none.",
        stages=("validate", "nightly"),
        enforced_by=(
            "earnest.experiences.models:Experience",
            "earnest.report.guardrails:lifecycle",
            "earnest.report.guardrails:actions",
        ),
        tests=(
            "tests/unit/experiences/test_validation.py::test_every_missing_launch_field_is_reported_at_once",
            "tests/unit/report/test_guardrails.py::test_unowned_overdue_or_ended_experiences_are_retired",
            "tests/integration/test_nightly_report.py::test_unowned_overdue_and_ended_experiences_are_retired",
        ),
        docs="docs/report.md#guardrails",
        covers=("named_owner", "unowned"),
    ),
    Guardrail(
        id="review_cadence",
        name="A review cadence, or retired",
        rule="Every experience states how often it is reviewed and when it last was; the "
        "nightly run retires one whose review is overdue, and only a recorded review "
        "(`earnest review`, or a push with a new `last_reviewed`) serves it again.",
        stages=("validate", "push", "nightly"),
        enforced_by=(
            "earnest.report.guardrails:review_due",
            "earnest.report.guardrails:lifecycle",
            "earnest.experiences.operations:revive_if_remedied",
        ),
        tests=(
            "tests/unit/report/test_guardrails.py::test_unowned_overdue_or_ended_experiences_are_retired",
            "tests/unit/report/test_guardrails.py::test_review_due_today_and_ends_tomorrow_are_not_yet_retired",
            "tests/integration/test_experience_commands.py::test_a_review_revives_what_was_retired_for_an_overdue_review",
            "tests/integration/test_experience_commands.py::test_a_push_with_a_new_last_reviewed_revives_an_overdue_retirement",
        ),
        docs="docs/experiences.md#lifecycle",
        covers=("review_cadence", "review_overdue"),
    ),
    Guardrail(
        id="sunset",
        name="Past its sunset, retired",
        rule="An experience with `ends_at` is retired by the first nightly run after it.",
        stages=("validate", "nightly"),
        enforced_by=("earnest.report.guardrails:ends_at", "earnest.report.guardrails:lifecycle"),
        tests=(
            "tests/unit/report/test_guardrails.py::test_unowned_overdue_or_ended_experiences_are_retired",
            "tests/unit/report/test_guardrails.py::test_review_due_today_and_ends_tomorrow_are_not_yet_retired",
        ),
        docs="docs/report.md#guardrails",
        covers=("valid_sunset", "ended"),
    ),
    Guardrail(
        id="loses_to_default",
        name="A variant that loses to the default stops running",
        rule="A variant whose verdict is `loses_to_default` is paused by the nightly run, "
        "with an audit entry carrying the numbers; decide stops serving it on its next "
        "rules refresh and its traffic goes to the remaining variants.",
        stages=("nightly", "decide"),
        enforced_by=(
            "earnest.report.guardrails:actions",
            "earnest_aws.nightly_report:apply_actions",
            "earnest.decide.engine:compile_experience",
        ),
        tests=(
            "tests/unit/report/test_guardrails.py::test_a_variant_that_loses_to_its_default_is_paused",
            "tests/integration/test_nightly_report.py::test_known_effects_give_known_verdicts_and_the_loser_is_paused_with_an_audit_entry",
            "tests/unit/decide/test_engine.py::test_paused_variants_are_not_served_and_their_traffic_goes_to_the_rest",
        ),
        docs="docs/report.md#guardrails",
        covers=("loses_to_default",),
    ),
    Guardrail(
        id="stopped_beating_default",
        name="A variant that stops beating the default stops running",
        rule="Past the plan's minimum sample, an inconclusive variant whose always-valid "
        "interval can no longer reach the plan's minimum detectable effect is paused "
        "(futility). One night's dip of a winner is not evidence and pauses nothing.",
        stages=("nightly",),
        enforced_by=("earnest.report.stats:cannot_reach", "earnest.report.guardrails:actions"),
        tests=(
            "tests/unit/report/test_guardrails.py::test_a_variant_that_cannot_reach_the_plans_effect_past_its_minimum_is_paused",
            "tests/integration/test_nightly_report.py::test_a_variant_that_cannot_reach_the_plans_effect_is_paused",
            "tests/unit/report/test_build.py::test_one_nights_dip_of_a_winner_pauses_nothing",
        ),
        docs="docs/statistics.md#stopped-beating-the-default-futility-against-the-plan",
        covers=("stopped_beating_default",),
    ),
    Guardrail(
        id="guardrail_metrics",
        name="A variant that harms a guardrail metric stops running",
        rule="On each of the plan's guardrail metrics a one-sided non-inferiority test at its "
        "margin runs every night; a variant that significantly harms one is paused under "
        "its own rule, whatever its primary metric says.",
        stages=("validate", "nightly"),
        enforced_by=(
            "earnest.experiences.models:GuardrailMetric",
            "earnest.report.stats:harms",
            "earnest.report.guardrails:actions",
        ),
        tests=(
            "tests/unit/experiences/test_validation.py::test_a_wrong_guardrail_direction_margin_or_cap_is_named",
            "tests/unit/report/test_guardrails.py::test_a_variant_that_harms_a_guardrail_metric_is_paused_under_its_own_rule",
            "tests/unit/report/test_build.py::test_a_variant_that_harms_a_guardrail_metric_is_paused_whatever_its_primary_says",
            "tests/integration/test_nightly_report.py::test_a_rise_in_a_lower_is_better_event_pauses_a_winner_with_its_own_audit_entry",
        ),
        docs="docs/statistics.md#guardrail-metrics",
        covers=("guardrail_harm",),
    ),
    Guardrail(
        id="all_variants_paused",
        name="No variant left, only the default",
        rule="When the pauses leave an experience no active variant, the experience itself is "
        "paused: its placement serves the default (or the next experience) until an audited "
        "resume.",
        stages=("nightly", "decide"),
        enforced_by=("earnest.report.guardrails:actions", "earnest.report.guardrails:apply"),
        tests=(
            "tests/unit/report/test_guardrails.py::test_when_every_active_variant_would_be_paused_the_experience_is_paused",
            "tests/integration/test_nightly_report.py::test_every_variant_losing_pauses_the_experience",
        ),
        docs="docs/report.md#guardrails",
        covers=("all_variants_paused",),
    ),
    Guardrail(
        id="no_verdict_without_trust",
        name="No trusted numbers, no verdict and no pause",
        rule="A sample-ratio mismatch withholds every verdict of the experience (reported and "
        "alerted, never acted on); below the plan's minimum units, or with too few "
        "conversions in an arm, the verdict is `needs_more_data`. Without a verdict "
        "nothing is paused.",
        stages=("nightly",),
        enforced_by=(
            "earnest.report.stats:verdict",
            "earnest.report.stats:srm",
            "earnest.report.guardrails:actions",
        ),
        tests=(
            "tests/unit/report/test_build.py::test_a_sample_ratio_mismatch_withholds_every_verdict_and_every_pause",
            "tests/integration/test_nightly_report.py::test_sample_ratio_mismatch_is_reported_and_alerted_but_nothing_is_paused",
            "tests/unit/report/test_guardrails.py::test_no_pause_without_evidence",
            "tests/integration/test_nightly_report.py::test_needs_more_data_below_the_minimum_units",
        ),
        docs="docs/report.md#sample-ratio-mismatch",
    ),
    Guardrail(
        id="daily_looks",
        name="Looking every night does not inflate false calls",
        rule="Verdicts read an always-valid (sequential) interval, so a nightly look at a "
        "growing sample keeps the error rates the plan states; naive peeking would not.",
        stages=("nightly",),
        enforced_by=("earnest.report.stats:verdict", "earnest.report.stats:sequential_boundary"),
        tests=(
            "tests/unit/report/test_stats.py::test_verdicts_read_the_sequential_interval_not_the_fixed_one",
            "tests/unit/report/test_stats_simulation.py::test_daily_looks_do_not_inflate_false_pauses_but_naive_peeking_does",
        ),
        docs="docs/statistics.md#why-daily-looks-need-always-valid-inference",
    ),
    Guardrail(
        id="pause_sticks",
        name="A pause sticks",
        rule="A pause or retirement (the nightly run's or an operator's) is operational state, "
        "kept apart from the authored file: a push never undoes it, a rollback keeps it, "
        "and only an explicit, audited resume or revive with a reason lifts it.",
        stages=("push", "decide"),
        enforced_by=(
            "earnest.experiences.lifecycle:effective",
            "earnest.experiences.actions:kept",
            "earnest_cli.experiences_cmd:cmd_resume",
        ),
        tests=(
            "tests/unit/experiences/test_lifecycle.py::test_a_paused_variant_stays_paused_whatever_the_file_says",
            "tests/integration/test_experience_commands.py::test_a_push_never_undoes_a_guardrail_and_says_what_it_kept",
            "tests/integration/test_experience_commands.py::test_resume_needs_a_reason_and_is_audited",
            "tests/integration/test_experience_commands.py::test_history_and_rollback_keep_operational_pauses",
        ),
        docs="docs/experiences.md#lifecycle",
    ),
    Guardrail(
        id="audited",
        name="Every change audited",
        rule="Every write of an experience (a push, a pause, a resume, a guardrail's action) "
        "is stored with one audit entry in the same transaction: who, when, what changed "
        "and why, and for a guardrail the evidence (the report's date and numbers).",
        stages=("push", "nightly"),
        enforced_by=(
            "earnest_aws.experiences_store:ExperiencesStore.save",
            "earnest_aws.experiences_store:ExperiencesStore.save_ops",
            "earnest.report.guardrails:record",
        ),
        tests=(
            "tests/integration/test_nightly_report.py::test_known_effects_give_known_verdicts_and_the_loser_is_paused_with_an_audit_entry",
            "tests/integration/test_experience_commands.py::test_resume_needs_a_reason_and_is_audited",
        ),
        docs="docs/architecture.md",
    ),
    Guardrail(
        id="acts_once",
        name="A guardrail acts once",
        rule="Re-running a night gives the same report and changes nothing twice, even after "
        "a run that crashed between acting and writing: the experiences are read as they "
        "stood before that night's run.",
        stages=("nightly",),
        enforced_by=("earnest.report.guardrails:as_of", "earnest.report.guardrails:apply"),
        tests=(
            "tests/integration/test_nightly_report.py::test_a_rerun_gives_a_byte_identical_report_and_changes_nothing_twice",
            "tests/integration/test_nightly_report.py::test_a_run_that_crashed_after_acting_gives_the_same_report_when_run_again",
            "tests/unit/report/test_guardrails.py::test_applying_twice_changes_nothing_more",
        ),
        docs="docs/report.md#re-runs",
    ),
    Guardrail(
        id="no_silent_merge",
        name="A push that raced another is refused, not merged",
        rule="A push from a checkout that missed someone else's change is refused, naming who "
        "changed what and when; every stored write is conditional on the version read.",
        stages=("push",),
        enforced_by=(
            "earnest.experiences.push:stale",
            "earnest_aws.experiences_store:ExperiencesStore.save",
        ),
        tests=(
            "tests/integration/test_experience_commands.py::test_a_push_from_a_checkout_that_missed_a_change_is_refused_naming_who",
            "tests/e2e/test_cli.py::test_push_then_list_then_a_raced_push_is_refused",
        ),
        docs="docs/experiences.md#push",
    ),
    Guardrail(
        id="named_problems",
        name="A typo never silently disables a guardrail",
        rule="Experience files are checked whole: unknown fields, duplicate ids, a missing "
        "placement, an unknown status, weights not above 0, an identity threshold outside "
        "0–1 are each refused naming the file, the experience, the field and the check.",
        stages=("validate", "push"),
        enforced_by=(
            "earnest.experiences.validation:validate_experience",
            "earnest.experiences.validation:validate_all",
        ),
        tests=(
            "tests/unit/experiences/test_validation.py::test_unknown_fields_and_duplicate_ids_are_named_with_their_file",
            "tests/unit/experiences/test_validation.py::test_zero_and_negative_weights_are_refused",
            "tests/unit/experiences/test_validation.py::test_each_problem_says_what_is_wrong_in_words",
        ),
        docs="docs/experiences.md",
        covers=(
            "stable_id",
            "unique_id",
            "placement_required",
            "known_status",
            "positive_weights",
            "identity_confidence_range",
        ),
    ),
    Guardrail(
        id="valid_audience",
        name="An invalid audience is refused before it serves",
        rule="Audience conditions are checked by `earnest validate` (operators, types, "
        "bounds, patterns that need backtracking, saved groups that exist) and compiled "
        "when rules load, so none is discovered broken at serve time.",
        stages=("validate", "decide"),
        enforced_by=(
            "earnest.conditions.checks:check_condition",
            "earnest.conditions.compile:compile_condition",
        ),
        tests=(
            "tests/unit/experiences/test_validation.py::test_invalid_and_unknown_operator_conditions_are_refused",
            "tests/unit/experiences/test_validation.py::test_saved_groups_must_exist",
            "tests/unit/conditions/test_conditions.py::test_patterns_that_need_backtracking_are_refused_by_validate",
        ),
        docs="docs/conditions.md#what-earnest-validate-checks",
        covers=("valid_audience", "known_saved_group"),
    ),
    Guardrail(
        id="consent_declared",
        name="Personal signals only with consent declared",
        rule="An audience that reads anything beyond the visit's context must declare "
        "`requires_consent: [personalization]`; `earnest validate` refuses it otherwise.",
        stages=("validate",),
        enforced_by=("earnest.experiences.validation:personal_signals",),
        tests=(
            "tests/unit/experiences/test_validation.py::test_profile_signals_need_the_personalization_purpose_declared",
            "tests/unit/experiences/test_validation.py::test_contextual_audiences_need_no_consent_purpose",
        ),
        docs="docs/experiences.md#which-signals-need-consent",
        covers=("consent_declared",),
    ),
    Guardrail(
        id="consent_at_serve_time",
        name="Consent checked at serve time",
        rule="Every decision reads the stored consent of the visitor's ids and combines it "
        "with what the request carries, the most restrictive winning; an experience whose "
        "required purposes are not all granted serves its default (`no_consent`) and its "
        "audience is not even evaluated.",
        stages=("decide",),
        enforced_by=(
            "earnest.decide.service:decide",
            "earnest.consent.purposes:effective_consent",
            "earnest_aws.consent_store:ConsentStore.purposes_for",
        ),
        tests=(
            "tests/unit/decide/test_engine.py::test_consent_is_combined_most_restrictive_at_serve_time",
            "tests/unit/decide/test_engine.py::test_without_consent_the_audience_is_not_even_evaluated",
            "tests/unit/decide/test_service.py::test_a_denial_stored_under_the_user_id_wins_over_the_anonymous_grant",
            "tests/integration/test_decide_handler.py::test_stored_withdrawal_is_in_force_on_the_next_request",
        ),
        docs="docs/decide.md#consent",
        covers=("no_consent",),
    ),
    Guardrail(
        id="fail_closed",
        name="Fail closed when consent is unknown",
        rule="No stored record under the opt-in regime counts as denied, and so does a value "
        "that is neither granted nor denied. A consent store that cannot be read, or hangs, "
        "counts as every purpose denied at decide, and answers 503 at /events with nothing "
        "acknowledged.",
        stages=("decide", "events"),
        enforced_by=(
            "earnest.decide.service:stored_consent",
            "earnest.consent.purposes:effective_consent",
            "earnest.events.service:consented",
        ),
        tests=(
            "tests/unit/decide/test_service.py::test_an_unreadable_consent_store_fails_closed_and_says_so",
            "tests/integration/test_decide_handler.py::test_a_hung_consent_read_is_tried_once_and_fails_closed",
            "tests/integration/test_consent_store.py::test_a_value_that_is_neither_granted_nor_denied_is_unknown_not_a_grant",
            "tests/unit/events/test_service.py::test_under_opt_in_no_record_means_not_measured_unless_the_request_grants_it",
            "tests/integration/test_record_exposure.py::test_an_unreadable_consent_store_answers_503_and_stores_nothing",
        ),
        docs="docs/decide.md#consent",
    ),
    Guardrail(
        id="gpc",
        name="Global Privacy Control is a refusal",
        rule="`Sec-GPC: 1` (or `consent.gpc` in the body) denies personalization at decide "
        "and keeps the visitor's events out of storage, whatever is stored.",
        stages=("decide", "events"),
        enforced_by=("earnest.consent.purposes:with_gpc",),
        tests=(
            "tests/unit/decide/test_service.py::test_sec_gpc_denies_personalization_whatever_is_stored",
            "tests/integration/test_decide_handler.py::test_sec_gpc_header_denies_personalization",
            "tests/unit/events/test_service.py::test_gpc_keeps_a_visitors_events_out_of_storage",
            "tests/unit/events/test_service.py::test_gpc_means_the_same_as_the_header_and_in_the_body",
        ),
        docs="docs/consent.md",
    ),
    Guardrail(
        id="identity_uncertain",
        name="Identity never taken as certain",
        rule="Below an experience's `min_identity_confidence` (0.9 when its audience reads "
        "`visitor.user_id` or attributes) the visitor is evaluated as anonymous, on "
        "contextual signals only; if the audience then does not match, the reason is "
        "`identity_uncertain`.",
        stages=("validate", "decide"),
        enforced_by=(
            "earnest.decide.request:identity_confidence",
            "earnest.decide.engine:DEFAULT_MIN_IDENTITY_CONFIDENCE",
            "earnest.decide.engine:Engine.decide",
        ),
        tests=(
            "tests/unit/decide/test_engine.py::test_below_min_identity_confidence_the_visitor_is_anonymous",
            "tests/unit/decide/test_engine.py::test_identity_audiences_default_to_a_09_threshold",
            "tests/unit/decide/test_engine.py::test_a_null_identity_confidence_counts_as_absent",
        ),
        docs="docs/decide.md#how-a-placement-is-decided",
        covers=("identity_uncertain",),
    ),
    Guardrail(
        id="withdrawal_wins",
        name="A withdrawal wins",
        rule="A withdrawal is in force on the very next decision (a strongly consistent read "
        "of every id's state), a denial under any regulation or any of the visitor's ids "
        "wins over a grant, and an older update arriving late never overwrites a newer "
        "one: it is kept in the history, not applied.",
        stages=("consent", "decide"),
        enforced_by=(
            "earnest.consent.records:order",
            "earnest.consent.purposes:most_restrictive",
            "earnest_aws.consent_writer:ConsentWriter.apply",
        ),
        tests=(
            "tests/integration/test_consent_store.py::test_a_denial_under_any_regulation_wins",
            "tests/integration/test_consent_update.py::test_an_older_update_arriving_late_is_kept_in_history_but_not_applied",
            "tests/integration/test_consent_update.py::test_the_conditional_write_holds_even_when_a_writer_read_a_stale_state",
            "tests/e2e/test_consent_e2e.py::test_a_cmp_withdrawal_is_in_force_on_the_very_next_decision",
        ),
        docs="docs/consent.md#ordering-and-duplicates",
    ),
    Guardrail(
        id="signed_consent",
        name="Only a CMP that proves itself changes consent",
        rule="Earnest's own webhooks are signed (Standard Webhooks, 5-minute tolerance, "
        "replays refused); real CMPs authenticate as they do. A missing or bad credential "
        "is a 401 and changes nothing.",
        stages=("consent",),
        enforced_by=(
            "earnest.consent.webhooks:verify",
            "earnest.consent.cmp.auth:authenticate",
            "earnest.consent.service:receive",
        ),
        tests=(
            "tests/integration/test_consent_update.py::test_unsigned_missigned_or_stale_requests_answer_401_and_change_nothing",
            "tests/integration/test_consent_update.py::test_a_replayed_webhook_id_answers_401_and_changes_nothing",
            "tests/unit/consent/test_webhooks.py::test_a_timestamp_more_than_five_minutes_away_is_refused",
        ),
        docs="docs/consent.md#who-may-write",
    ),
    Guardrail(
        id="erasure_is_final",
        name="An erasure is final",
        rule="An erasure deletes the subject's record and leaves a tombstone that denies "
        "every purpose and refuses later updates; the nightly report excludes the subject.",
        stages=("consent", "decide", "nightly"),
        enforced_by=(
            "earnest_aws.consent_writer:ConsentWriter.erase",
            "earnest_aws.reports_store:erased_subjects",
        ),
        tests=(
            "tests/integration/test_consent_update.py::test_erasure_leaves_only_a_tombstone_and_a_receipt",
            "tests/integration/test_consent_update.py::test_a_late_update_cannot_bring_an_erased_subject_back",
            "tests/integration/test_consent_store.py::test_a_tombstone_denies_everything",
            "tests/integration/test_nightly_report.py::test_duplicates_conversions_before_exposure_and_erased_subjects_do_not_count",
        ),
        docs="docs/consent.md#erasure",
    ),
    Guardrail(
        id="measurement_consent",
        name="No measurement without consent",
        rule="Events of subjects whose measurement consent is not granted are not stored "
        "(counted in the response), judged subject by subject.",
        stages=("events",),
        enforced_by=("earnest.events.service:consented",),
        tests=(
            "tests/unit/events/test_service.py::test_a_subject_who_denied_measurement_is_not_stored_and_is_counted",
            "tests/integration/test_record_exposure.py::test_subjects_without_measurement_consent_are_not_stored_and_are_counted",
            "tests/e2e/test_events_e2e.py::test_after_a_cmp_withdraws_measurement_nothing_more_is_stored",
        ),
        docs="docs/events.md#consent-at-ingest",
    ),
    Guardrail(
        id="signed_exposures",
        name="Nobody can forge exposures into a report",
        rule="/events accepts an exposure only with decide's valid, unexpired, HMAC-signed "
        "token, and stores what the token proves, not what the sender claims.",
        stages=("decide", "events"),
        enforced_by=("earnest.tokens:TokenSigner.verify", "earnest.events.batch:validate_batch"),
        tests=(
            "tests/unit/test_tokens.py::test_a_forged_signature_with_a_known_kid_is_tampered",
            "tests/unit/test_tokens.py::test_expired_and_future_tokens_are_refused",
            "tests/unit/test_tokens.py::test_changing_any_character_of_a_token_is_caught",
            "tests/unit/events/test_batch.py::test_an_exposure_is_stored_with_what_its_token_proves",
        ),
        docs="docs/events.md",
    ),
    Guardrail(
        id="nothing_lost",
        name="Nothing acknowledged is lost",
        rule="An event batch or consent change is acknowledged only once stored; on a fault "
        "the answer is 503 with Retry-After, and the retry succeeds without a second copy.",
        stages=("events", "consent"),
        enforced_by=(
            "earnest.events.service:receive",
            "earnest_aws.events_store:EventsStore.put",
            "earnest.consent.service:receive",
        ),
        tests=(
            "tests/integration/test_record_exposure.py::test_an_unwritable_bucket_answers_503_and_the_retry_stores_everything",
            "tests/integration/test_record_exposure.py::test_a_hung_bucket_is_tried_once_and_answers_503_acknowledging_nothing",
            "tests/integration/test_record_exposure.py::test_a_retry_with_the_same_idempotency_key_stores_no_second_copy",
            "tests/integration/test_consent_update.py::test_a_webhook_answered_503_by_a_failed_write_is_retried_to_success",
        ),
        docs="docs/events.md#nothing-acknowledged-is-lost",
    ),
    Guardrail(
        id="bad_input_named",
        name="Bad input refused with a named field",
        rule="Invalid JSON, wrong types, repeated keys, deep nesting, oversize bodies, absurd "
        "numbers and unknown fields get a 4xx whose machine-readable error names the field; "
        "never a 500 or a stack trace. A bad event never poisons its batch.",
        stages=("decide", "events", "consent"),
        enforced_by=(
            "earnest.jsonbody:read_json",
            "earnest.decide.request:validate_request",
            "earnest.events.batch:parse_batch",
            "earnest_aws.http:error_response",
        ),
        tests=(
            "tests/integration/test_decide_handler.py::test_bad_input_answers_4xx_naming_the_field",
            "tests/integration/test_decide_handler.py::test_repeated_keys_and_absurd_nesting_are_400s_naming_the_field",
            "tests/integration/test_record_exposure.py::test_bad_events_are_named_and_never_poison_the_batch",
            "tests/integration/test_record_exposure.py::test_a_fault_nobody_foresaw_is_a_503_never_a_500",
            "tests/integration/test_consent_update.py::test_bad_input_answers_400_or_413_naming_the_field",
        ),
        docs="docs/decide.md#errors",
    ),
    Guardrail(
        id="always_an_answer",
        name="Always a renderable answer, in bounded time",
        rule="If a rules refresh fails the last good rules keep serving until their TTL; past "
        "it, or with none at all, every placement answers its default, `rules_unavailable`, "
        "with HTTP 200 (a pause sticks). A hung dependency is tried once with short "
        "timeouts, so decide answers in bounded time.",
        stages=("decide",),
        enforced_by=(
            "earnest_aws.rules_cache:RulesCache.engine",
            "earnest.decide.engine:unavailable_response",
            "earnest_aws.clients:ON_REQUEST",
        ),
        tests=(
            "tests/integration/test_decide_handler.py::test_when_dynamodb_fails_the_last_good_rules_serve_until_the_ttl_then_the_defaults",
            "tests/integration/test_rules_cache.py::test_past_the_bound_a_hung_table_answers_the_defaults_never_the_old_rules",
            "tests/integration/test_rules_cache.py::test_a_failed_refresh_keeps_the_last_rules_until_the_ttl_and_backs_off",
            "tests/integration/test_decide_handler.py::test_a_hung_consent_read_is_tried_once_and_fails_closed",
        ),
        docs="docs/decide.md#rules-cache",
        covers=("rules_unavailable",),
    ),
    Guardrail(
        id="explained",
        name="Every decision says why",
        rule="Each placement's answer carries a reason from a closed set, and a trace of the "
        "candidates that lost and why; conflicts on a placement resolve by priority, then "
        "id, deterministically. Every reason is counted in metrics.",
        stages=("decide",),
        enforced_by=("earnest.decide.engine:REASONS", "earnest.decide.engine:Engine.decide"),
        tests=(
            "tests/unit/decide/test_engine.py::test_every_reason_is_in_the_closed_set",
            "tests/unit/decide/test_engine.py::test_priority_decides_a_placement_and_the_trace_says_who_lost",
            "tests/unit/decide/test_engine.py::test_known_and_unknown_placements",
            "tests/integration/test_decide_handler.py::test_each_reason_served_is_counted_as_a_cloudwatch_metric",
        ),
        docs="docs/decide.md#how-a-placement-is-decided",
        covers=("personalized", "no_live_experience", "unknown_placement"),
    ),
    Guardrail(
        id="visitor_memory",
        name="What a visitor saw and closed is remembered, within bounds and consent",
        rule="An experience's `frequency_cap` stops serving a unit that was shown it "
        "`max_exposures` times on its last `per_days` days (`frequency_capped`), in every arm "
        "alike, the holdouts too; `dismiss_for_days` stops serving a unit that dismissed it "
        "(`dismissed`), a dismissal authenticated by the decision's own token. The memory is "
        "kept by /events only where consent allows personalization, read in decide's consent "
        "read, bounded, and erased with the subject. Validate names each field's bounds.",
        stages=("validate", "decide", "events"),
        enforced_by=(
            "earnest.experiences.models:FrequencyCap",
            "earnest.decide.engine:recalled",
            "earnest.memory:remember",
            "earnest.events.service:receive",
            "earnest_aws.memory_store:MemoryStore.update",
        ),
        tests=(
            "tests/unit/decide/test_memory_rules.py::test_a_unit_is_served_until_exactly_the_cap_then_gets_the_default",
            "tests/unit/decide/test_memory_rules.py::test_a_dismissal_holds_for_its_days_and_wins_over_the_cap",
            "tests/unit/decide/test_memory_rules.py::test_validate_names_the_field_and_its_bound",
            "tests/unit/events/test_memory_events.py::test_a_dismissal_naming_another_unit_or_with_a_bad_token_is_refused_alone",
            "tests/unit/events/test_memory_events.py::test_memory_is_kept_only_where_consent_allows_personalization",
            "tests/integration/test_memory_store.py::test_erasure_deletes_the_memory_and_no_late_write_brings_it_back",
            "tests/e2e/test_memory_e2e.py::test_a_capped_experience_stops_at_exactly_the_cap_and_serves_again_after_the_window",
            "tests/e2e/test_memory_e2e.py::test_a_dismissal_holds_from_the_next_decide",
        ),
        docs="docs/decide.md#memory-frequency-caps-and-dismissals",
        covers=("frequency_capped", "dismissed", "memory_bounds"),
    ),
    Guardrail(
        id="same_answer",
        name="The same visitor gets the same answer",
        rule="Bucketing is MurmurHash3 of the unit with a per-experience seed: the same input "
        "gives the same answer on every machine and version, and editing one experience "
        "never reshuffles another's units.",
        stages=("decide",),
        enforced_by=("earnest.decide.bucketing:bucket", "earnest.decide.bucketing:seed_for"),
        tests=(
            "tests/unit/decide/test_bucketing.py::test_matches_the_published_murmurhash3_x86_32_vectors",
            "tests/unit/decide/test_engine_properties.py::test_the_same_input_always_gives_the_same_answer",
            "tests/unit/decide/test_engine_properties.py::test_editing_one_experience_never_reshuffles_another",
        ),
        docs="docs/decide.md#bucketing",
    ),
    Guardrail(
        id="front_door",
        name="Only the edge reaches decide and events",
        rule="With a front-door secret configured, a request that does not carry it is "
        "refused before anything is read.",
        stages=("decide", "events"),
        enforced_by=("earnest_aws.front_door:require",),
        tests=(
            "tests/integration/test_front_door.py::test_only_requests_through_the_front_door_are_served",
        ),
        docs="docs/deployment.md",
    ),
    Guardrail(
        id="no_personal_data_in_logs",
        name="No personal identifiers in logs",
        rule="Logs and metrics carry counts and reasons, never a raw visitor, user or subject "
        "id, on every route and every refusal.",
        stages=("decide", "events", "consent"),
        enforced_by=("earnest_aws.http:http_handler",),
        tests=(
            "tests/e2e/test_no_personal_data_in_logs.py::test_no_raw_id_sent_to_any_route_reaches_the_functions_logs",
        ),
        docs="docs/reliability.md#no-personal-data-in-logs",
    ),
)


def stage_names(stages: Iterable[str]) -> str:
    return ", ".join(stages)


def source_of(ref: str) -> str:
    """The file in the repository that holds `ref` (`module:name`), from its module."""
    module = ref.split(":", 1)[0]
    root = "cli" if module.startswith("earnest_cli") else "shared"
    return f"{root}/{module.replace('.', '/')}.py"


def as_json(catalog: Sequence[Guardrail] = CATALOG) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "stages": dict(STAGES),
        "guardrails": [g.as_dict() for g in catalog],
    }


def _wrapped(label: str, items: Sequence[str]) -> list[str]:
    indent = " " * 4
    head = f"{indent}{label:<13}"
    lines = []
    for i, item in enumerate(items):
        lines.append((head if i == 0 else indent + " " * 13) + item)
    return lines or [head + "(none)"]


def text(catalog: Sequence[Guardrail] = CATALOG, width: int = 100) -> str:
    """The catalog as a person reads it in a terminal: each guardrail, its rule, its proof."""
    out = [
        f"{len(catalog)} guardrails, each enforced in code and attacked by tests "
        "(docs/guardrails.md; --json for all of it)",
        "",
    ]
    for n, g in enumerate(catalog, 1):
        out.append(f"{n:>2}. {g.name}  [{stage_names(g.stages)}]  ({g.id})")
        out += textwrap.wrap(g.rule, width, initial_indent="    ", subsequent_indent="    ")
        out += _wrapped("enforced by:", [r.replace(":", ".") for r in g.enforced_by])
        out += _wrapped("proved by:", list(g.tests))
        out.append("")
    return "\n".join(out)


def anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.strip().replace(" ", "-")


MARKDOWN_INTRO = """\
# Guardrails

<!-- Generated from shared/earnest/program/guardrails_catalog.py by
     `earnest guardrails --markdown > docs/guardrails.md`; do not edit by hand.
     tests/unit/program/test_guardrails_catalog.py fails when this file is out of date. -->

Every guardrail Earnest enforces, where it is enforced and the tests that attack it. The
list is one catalog in the code (`earnest.program.guardrails_catalog`); `earnest guardrails`
prints it (`--json` for a machine). The suite checks it stays true: every piece of code
named here is resolved by import, every test is collected by pytest, a guardrail with no
enforcing code or no test fails the build, and so does a launch check (`earnest validate`'s
`[check]`), a nightly rule (an audit entry's `rule`) or a decision reason that no guardrail
covers.

| stage | what it is |
|---|---|
{stages}
"""


def markdown(catalog: Sequence[Guardrail] = CATALOG) -> str:
    """docs/guardrails.md: the summary table, then each guardrail with its code and tests."""
    stages = "\n".join(f"| {name} | {what} |" for name, what in STAGES.items())
    out = [MARKDOWN_INTRO.format(stages=stages)]
    out += ["| # | guardrail | enforced at | code | tests |", "|---|---|---|---|---|"]
    headings = [f"{n}. {g.name}" for n, g in enumerate(catalog, 1)]
    for n, (g, heading) in enumerate(zip(catalog, headings, strict=True), 1):
        out.append(
            f"| {n} | [{g.name}](#{anchor(heading)}) | {stage_names(g.stages)} | "
            f"{len(g.enforced_by)} | {len(g.tests)} |"
        )
    for g, heading in zip(catalog, headings, strict=True):
        out += ["", f"## {heading}", "", g.rule, ""]
        line = f"`{g.id}` · enforced at: {stage_names(g.stages)} · documented in "
        line += f"[{g.docs}]({g.docs.removeprefix('docs/')})"
        if g.covers:
            line += f" · covers: {', '.join(f'`{c}`' for c in g.covers)}"
        out.append(line)
        out += ["", "Enforced by:", ""]
        out += [f"- [`{r.replace(':', '.')}`](../{source_of(r)})" for r in g.enforced_by]
        out += ["", "Proved by:", ""]
        out += [f"- `{t}`" for t in g.tests]
    return "\n".join(out) + "\n"

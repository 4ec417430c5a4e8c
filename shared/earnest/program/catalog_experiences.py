"""The catalog's guardrails on experiences: a plan, a default, a holdout, an owner, an end;
pauses that stick, audited, applied once.

Part of the catalog (`earnest.program.guardrails_catalog.CATALOG`), in its order.

Pure: stdlib only; it imports nothing it names (the checks do that).
"""

from __future__ import annotations

from earnest.program.guardrail import Guardrail

EXPERIENCES: tuple[Guardrail, ...] = (
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
            "earnest.decide.reasons:DEFAULT_REASONS",
            "earnest.decide.compiled:compile_experience",
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
        id="bandit_inside_the_guardrails",
        name="A bandit moves traffic inside the guardrails",
        rule="An experience with `allocation: {mode: bandit}` is re-weighted by the nightly "
        "run only after its exploration window and with enough units per variant, never "
        "below its weight floor; the holdout share is always the file's and the holdout's "
        "units never move; a re-weighting moves only the units the change of weights "
        "requires; a variant a guardrail pauses stays paused whatever its weight; a push "
        "never undoes the weights; verdicts read the lift combined across its epochs.",
        stages=("validate", "decide", "nightly"),
        enforced_by=(
            "earnest.experiences.models:Allocation",
            "earnest.decide.slices:reweight",
            "earnest.report.bandit:reweights",
            "earnest.report.bandit:across_epochs",
            "earnest.experiences.weights:record",
        ),
        tests=(
            "tests/unit/decide/test_slices.py::test_the_allocation_field_is_validated_with_its_bounds_named",
            "tests/unit/decide/test_slices.py::test_over_100000_units_a_sequence_of_reweightings_moves_at_most_the_tv_plus_a_point",
            "tests/unit/decide/test_slices.py::test_a_reweighting_moves_exactly_the_total_variation_and_keeps_few_slices",
            "tests/unit/report/test_bandit.py::test_a_variant_paused_tonight_takes_no_part_and_stays_paused",
            "tests/unit/report/test_bandit.py::test_stratifying_removes_the_drift_that_pooling_mixes_in",
            "tests/integration/test_bandit.py::test_decide_serves_the_new_weights_and_the_holdout_stays_the_files",
            "tests/integration/test_bandit.py::test_a_push_never_undoes_the_weights_and_a_fixed_mode_does",
        ),
        docs="docs/experiences.md#allocation-fixed-or-bandit",
        covers=("valid_allocation", "bandit"),
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
            "earnest.experiences.operations:apply_guardrails",
            "earnest.decide.compiled:compile_experience",
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
            "earnest.report.srm:srm",
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
)

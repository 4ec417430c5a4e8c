"""The catalog's guardrails on visitors and their requests: audiences, consent, identity,
signatures, bad input, an answer always, no personal data in logs.

Part of the catalog (`earnest.program.guardrails_catalog.CATALOG`), in its order.

Pure: stdlib only; it imports nothing it names (the checks do that).
"""

from __future__ import annotations

from earnest.program.guardrail import Guardrail

VISITORS: tuple[Guardrail, ...] = (
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
            "earnest.decide.compiled:DEFAULT_MIN_IDENTITY_CONFIDENCE",
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
        enforced_by=("earnest.decide.reasons:REASONS", "earnest.decide.engine:Engine.decide"),
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
            "earnest.decide.compiled:recalled",
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

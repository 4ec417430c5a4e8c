-- Earnest nightly report: the aggregation of earnest.report.aggregation, as one query over the
-- Glue table of events (Athena / Trino; the tests run it with DuckDB). For a window larger
-- than one Lambda run can read (docs/report.md, "Scale").
--
-- Filled in by earnest.report.sql.render, each where the query below names it as a
-- placeholder (named here without one, so this comment stays as written):
--   events         the events table (Athena: earnest_<stage>.events; partitions dt, hour)
--   start_dt       first partition day analysed (YYYY-MM-DD)
--   pre_start_dt   first partition day read: pre_exposure_days before start_dt, whose
--                  conversions only are read (CUPED's covariate)
--   end_dt         the last partition day read (the report's date + the late days)
--   experiences    rows (experience, attribution_days, conversion_name or NULL, since,
--                  until, cap_percentile): the experiences reported, which conversions
--                  count for each, the event times of the exposures its arms count (its
--                  allocation) and the percentile its units' revenue is capped at
--   guardrail_events rows (experience, name): the named events of guardrail metrics
--   segment_paths  rows (experience, path): the segment paths each experience records
--   max_segment_values, segment_none, segment_other
--                  per path, the values with most units kept (the rest pooled into
--                  segment_other); segment_none: the value of a path an exposure lacks
--   program_since  the first event time of coverage and the program (the lookback)
--   until          the end of the report's day: no event stamped at or after it counts
--   erased         rows (unit_id): erased subjects, whose events are left out
--   program_attribution_days, program_cap_percentile, pre_exposure_days, max_value
--   personalized, global_holdout, arm_reasons, program_reasons
--                  the decision reasons the query reads, from earnest.decide.reasons (the
--                  reason that carries a variant, the global holdout's; an experience's own
--                  arms, the program's units); program_arm: the program's treated group
--   arm_metric_sums, program_metric_sums, arm_metric_columns, program_metric_columns,
--   no_metric_columns
--                  generated from the metrics' declarations (earnest.report.metrics): each
--                  metric's sum of its unit values (its `sql`), and of their squares
--
-- One result set; `section` says what a row is:
--   arm       per experience and arm (arm NULL = the holdout): units, exposures, units in
--             several arms, the cap, and per declared metric the sums of the units' values
--             and of their squares, and for a metric CUPED adjusts its covariate's sums
--             (x before exposure: sum x, sum x squared, sum x times y), NULL without
--             pre-exposure days
--   program   per group (global_holdout | program): the same numbers (no pre-exposure)
--   coverage  per experience and decision reason: exposures (in `exposures`)
--   event     per experience, arm and guardrail event (`name`): units with one (`units`)
--   segment   per experience, segment path and value (`segment_path`, `segment_value`) and
--             arm: the arm's numbers within that value (exposures 0, no events)
--
-- Rules, the same as the Python path: events count by event time, not by partition;
-- duplicates dropped by event_id per unit (one unit's events never remove another's; see
-- `numbered` for which copy counts); a
-- conversion value above max_value is dropped as malformed; a unit belongs to
-- the arm of its first exposure (ties: holdout, then variant id); a conversion counts if
-- it happened at or after that exposure and within attribution_days, and for the
-- covariate if it happened in the pre_exposure_days before it; conversions are binary per
-- unit, revenue summed per unit, then capped at the nearest-rank cap_percentile of the
-- experience's units' positive revenues; by segment, a unit counts in the values its first
-- exposure recorded (tied first exposures: each path's smallest value; earnest.report.
-- segment_totals), per path the max_segment_values values with most units (ties by value)
-- kept, the rest pooled into segment_other.
WITH
experiences (experience, attribution_days, conversion_name, since, until, cap_percentile) AS (
  ${experiences}
),
guardrail_events (experience, name) AS (
  ${guardrail_events}
),
segment_paths (experience, path) AS (
  ${segment_paths}
),
erased (unit_id) AS (
  ${erased}
),
windowed AS (
  SELECT e.*, e."$$path" AS object_key
  FROM ${events} e
  LEFT JOIN erased x ON x.unit_id = e.unit_id
  WHERE e.dt BETWEEN '${pre_start_dt}' AND '${end_dt}'
    AND (e.dt >= '${start_dt}' OR e.type = 'conversion')
    AND e.unit_id IS NOT NULL AND e.unit_id <> ''
    AND e.event_id IS NOT NULL
    AND x.unit_id IS NULL
    AND CAST(replace(replace(e.event_time, 'T', ' '), 'Z', '') AS TIMESTAMP)
        < TIMESTAMP '${until}'
),
-- Well-formed records only: a malformed copy never stands in for a good one.
valid AS (
  SELECT * FROM windowed
  WHERE (type = 'exposure'
         AND experience IS NOT NULL AND reason IS NOT NULL
         AND (reason <> ${personalized} OR variant IS NOT NULL))
     OR (type = 'conversion'
         AND (value IS NULL OR (value >= 0 AND value <= ${max_value})))
),
-- Copies of an event: the same unit, type and event_id. The first read (by partition, then
-- object key, as the Python path reads) counts; a later copy of a conversion never does, of
-- an exposure not while the copy before it is in the same or the previous day's partition
-- (the Python path's horizon; a token lives a day, so a replay falls within it).
numbered AS (
  SELECT v.*,
         row_number() OVER copies AS copy_number,
         lag(v.dt) OVER copies AS copy_before_dt
  FROM valid v
  WINDOW copies AS (PARTITION BY v.type, v.unit_id, v.event_id ORDER BY v.dt, v.object_key)
),
deduped AS (
  SELECT * FROM numbered
  WHERE copy_number = 1
     OR (type = 'exposure'
         AND date_diff('day', CAST(copy_before_dt AS DATE), CAST(dt AS DATE)) > 1)
),
exposures AS (
  SELECT unit_id, experience, reason,
         CASE WHEN reason = ${personalized} THEN variant END AS arm,
         event_time,
         CAST(replace(replace(event_time, 'T', ' '), 'Z', '') AS TIMESTAMP) AS ts,
         segments
  FROM deduped
  WHERE type = 'exposure'
),
conversions AS (
  SELECT unit_id,
         coalesce(name, '') AS name,
         coalesce(value, 0.0) AS value,
         CAST(replace(replace(event_time, 'T', ' '), 'Z', '') AS TIMESTAMP) AS ts
  FROM deduped
  WHERE type = 'conversion'
),
arm_exposures AS (
  SELECT e.*
  FROM exposures e
  JOIN experiences x ON x.experience = e.experience
  WHERE e.reason IN (${arm_reasons})
    AND e.ts >= x.since AND e.ts < x.until
),
program_window AS (
  SELECT * FROM exposures WHERE ts >= TIMESTAMP '${program_since}'
),
first_exposure AS (
  SELECT experience, unit_id, arm, ts, several
  FROM (
    SELECT experience, unit_id, arm, ts,
           row_number() OVER (PARTITION BY experience, unit_id
                              ORDER BY event_time, coalesce(arm, '')) AS rn,
           min(coalesce(arm, '')) OVER (PARTITION BY experience, unit_id)
             <> max(coalesce(arm, '')) OVER (PARTITION BY experience, unit_id) AS several
    FROM arm_exposures
  ) ranked
  WHERE rn = 1
),
unit_outcomes AS (
  SELECT f.experience, f.unit_id, f.arm, f.several,
         count(CASE WHEN c.ts >= f.ts THEN 1 END) AS conversions,
         coalesce(sum(CASE WHEN c.ts >= f.ts THEN c.value END), 0.0) AS revenue,
         count(CASE WHEN c.ts < f.ts THEN 1 END) AS pre_conversions,
         coalesce(sum(CASE WHEN c.ts < f.ts THEN c.value END), 0.0) AS pre_revenue
  FROM first_exposure f
  JOIN experiences x ON x.experience = f.experience
  LEFT JOIN conversions c
    ON c.unit_id = f.unit_id
   AND (x.conversion_name IS NULL OR c.name = x.conversion_name)
   AND ((c.ts >= f.ts
         AND date_diff('millisecond', f.ts, c.ts) <= x.attribution_days * 86400000)
        OR (c.ts < f.ts
            AND date_diff('millisecond', c.ts, f.ts) <= ${pre_exposure_days} * 86400000))
  GROUP BY f.experience, f.unit_id, f.arm, f.several
),
-- The cap: the nearest-rank cap_percentile of the units' positive revenues, all arms pooled.
ranked_revenue AS (
  SELECT experience, revenue,
         row_number() OVER (PARTITION BY experience ORDER BY revenue) AS revenue_rank,
         count(*) OVER (PARTITION BY experience) AS positive_units
  FROM unit_outcomes
  WHERE conversions > 0 AND revenue > 0
),
caps AS (
  SELECT r.experience, min(r.revenue) AS revenue_cap
  FROM ranked_revenue r
  JOIN experiences x ON x.experience = r.experience
  WHERE r.revenue_rank >= least(r.positive_units,
                                greatest(1, CAST(ceil(x.cap_percentile * r.positive_units - 1e-9)
                                                 AS BIGINT)))
  GROUP BY r.experience
),
-- Each unit's outcome after its first exposure (converted 0/1, revenue, revenue capped)
-- and the same in the days before it (pre_*): what every metric's value is formed from.
capped_outcomes AS (
  SELECT o.experience, o.unit_id, o.arm, o.several, o.revenue, o.pre_revenue, k.revenue_cap,
         CASE WHEN o.conversions > 0 THEN 1 ELSE 0 END AS converted,
         CASE WHEN o.conversions > 0 THEN least(o.revenue, coalesce(k.revenue_cap, o.revenue))
              ELSE 0.0 END AS revenue_capped,
         CASE WHEN o.pre_conversions > 0 THEN 1 ELSE 0 END AS pre_converted,
         least(o.pre_revenue, coalesce(k.revenue_cap, o.pre_revenue)) AS pre_revenue_capped
  FROM unit_outcomes o
  LEFT JOIN caps k ON k.experience = o.experience
),
-- Each unit's value of each segment path at its first exposure (the smallest of tied ones).
unit_segment_values AS (
  SELECT e.experience, e.unit_id, p.path,
         min(coalesce(CASE WHEN contains(map_keys(e.segments), p.path)
                           THEN e.segments[p.path] END, ${segment_none})) AS value
  FROM arm_exposures e
  JOIN first_exposure f
    ON f.experience = e.experience AND f.unit_id = e.unit_id AND f.ts = e.ts
   AND coalesce(f.arm, '') = coalesce(e.arm, '')
  JOIN segment_paths p ON p.experience = e.experience
  GROUP BY e.experience, e.unit_id, p.path
),
segment_ranks AS (
  SELECT experience, path, value,
         row_number() OVER (PARTITION BY experience, path
                            ORDER BY CASE WHEN value = ${segment_other} THEN 1 ELSE 0 END,
                                     count(*) DESC, value) AS value_rank
  FROM unit_segment_values
  GROUP BY experience, path, value
),
unit_segments AS (
  SELECT u.experience, u.unit_id, u.path AS segment_path,
         CASE WHEN r.value_rank <= ${max_segment_values} AND u.value <> ${segment_other}
              THEN u.value ELSE ${segment_other} END AS segment_value
  FROM unit_segment_values u
  JOIN segment_ranks r
    ON r.experience = u.experience AND r.path = u.path AND r.value = u.value
),
segment_totals AS (
  SELECT o.experience, s.segment_path, s.segment_value, o.arm,
         count(*) AS units,
         sum(CASE WHEN several THEN 1 ELSE 0 END) AS units_in_several_arms,
         ${arm_metric_sums}
  FROM capped_outcomes o
  JOIN unit_segments s ON s.experience = o.experience AND s.unit_id = o.unit_id
  GROUP BY o.experience, s.segment_path, s.segment_value, o.arm
),
arm_totals AS (
  SELECT experience, arm,
         count(*) AS units,
         sum(CASE WHEN several THEN 1 ELSE 0 END) AS units_in_several_arms,
         max(revenue_cap) AS revenue_cap,
         ${arm_metric_sums}
  FROM capped_outcomes
  GROUP BY experience, arm
),
unit_events AS (
  SELECT DISTINCT f.experience, f.arm, f.unit_id, g.name
  FROM first_exposure f
  JOIN experiences x ON x.experience = f.experience
  JOIN guardrail_events g ON g.experience = f.experience
  JOIN conversions c
    ON c.unit_id = f.unit_id
   AND c.name = g.name
   AND c.ts >= f.ts
   AND date_diff('millisecond', f.ts, c.ts) <= x.attribution_days * 86400000
),
arm_exposure_counts AS (
  SELECT experience, arm, count(*) AS exposures
  FROM arm_exposures
  GROUP BY experience, arm
),
program_exposures AS (
  SELECT unit_id, event_time, ts, reason = ${global_holdout} AS in_global
  FROM program_window
  WHERE reason IN (${program_reasons})
),
program_first AS (
  SELECT unit_id, in_global, ts, several
  FROM (
    SELECT unit_id, in_global, ts,
           row_number() OVER (PARTITION BY unit_id
                              ORDER BY event_time,
                                       CASE WHEN in_global THEN 0 ELSE 1 END) AS rn,
           min(CASE WHEN in_global THEN 1 ELSE 0 END) OVER (PARTITION BY unit_id)
             <> max(CASE WHEN in_global THEN 1 ELSE 0 END) OVER (PARTITION BY unit_id)
             AS several
    FROM program_exposures
  ) ranked
  WHERE rn = 1
),
program_outcomes AS (
  SELECT f.unit_id, f.in_global, f.several,
         count(c.unit_id) AS conversions,
         coalesce(sum(c.value), 0.0) AS revenue
  FROM program_first f
  LEFT JOIN conversions c
    ON c.unit_id = f.unit_id
   AND c.ts >= f.ts
   AND date_diff('millisecond', f.ts, c.ts) <= ${program_attribution_days} * 86400000
  GROUP BY f.unit_id, f.in_global, f.several
),
program_ranked AS (
  SELECT revenue,
         row_number() OVER (ORDER BY revenue) AS revenue_rank,
         count(*) OVER () AS positive_units
  FROM program_outcomes
  WHERE conversions > 0 AND revenue > 0
),
program_cap AS (
  SELECT min(revenue) AS revenue_cap
  FROM program_ranked
  WHERE revenue_rank >= least(positive_units,
                              greatest(1, CAST(ceil(${program_cap_percentile} * positive_units
                                                    - 1e-9) AS BIGINT)))
),
program_units AS (
  SELECT CASE WHEN o.in_global THEN ${global_holdout} ELSE ${program_arm} END AS arm,
         o.several, o.revenue, k.revenue_cap,
         CASE WHEN o.conversions > 0 THEN 1 ELSE 0 END AS converted,
         least(o.revenue, coalesce(k.revenue_cap, o.revenue)) AS revenue_capped
  FROM program_outcomes o
  CROSS JOIN program_cap k
),
program_totals AS (
  SELECT arm,
         count(*) AS units,
         sum(CASE WHEN several THEN 1 ELSE 0 END) AS units_in_several_arms,
         max(revenue_cap) AS revenue_cap,
         ${program_metric_sums}
  FROM program_units
  GROUP BY arm
),
program_exposure_counts AS (
  SELECT CASE WHEN in_global THEN ${global_holdout} ELSE ${program_arm} END AS arm,
         count(*) AS exposures
  FROM program_exposures
  GROUP BY CASE WHEN in_global THEN ${global_holdout} ELSE ${program_arm} END
)
-- Driven by the exposure counts: an arm (or a program group) whose units all count
-- elsewhere still shows, with its exposures.
-- Columns are read by name (earnest.report.sql.totals_from_rows); per metric declared in
-- earnest.report.metrics: <metric>_sum, <metric>_sum_sq and, for those CUPED adjusts,
-- <metric>_pre_sum, <metric>_pre_sum_sq, <metric>_pre_product (NULL without pre-exposure days).
SELECT 'arm' AS section, n.experience AS experience, n.arm AS arm,
       coalesce(t.units, 0) AS units, n.exposures AS exposures,
       coalesce(t.units_in_several_arms, 0) AS units_in_several_arms,
       k.revenue_cap AS revenue_cap,
       ${arm_metric_columns},
       CAST(NULL AS VARCHAR) AS name,
       CAST(NULL AS VARCHAR) AS segment_path, CAST(NULL AS VARCHAR) AS segment_value
FROM arm_exposure_counts n
LEFT JOIN arm_totals t
  ON t.experience = n.experience AND coalesce(t.arm, '') = coalesce(n.arm, '')
LEFT JOIN caps k ON k.experience = n.experience
UNION ALL
SELECT 'program', NULL, n.arm, coalesce(t.units, 0), n.exposures,
       coalesce(t.units_in_several_arms, 0), k.revenue_cap, ${program_metric_columns}, NULL,
       NULL, NULL
FROM program_exposure_counts n
LEFT JOIN program_totals t ON t.arm = n.arm
CROSS JOIN program_cap k
UNION ALL
SELECT 'coverage', experience, reason, NULL, count(*), NULL, NULL, ${no_metric_columns}, NULL,
       NULL, NULL
FROM program_window
GROUP BY experience, reason
UNION ALL
SELECT 'event', experience, arm, count(*), NULL, NULL, NULL, ${no_metric_columns}, name,
       NULL, NULL
FROM unit_events
GROUP BY experience, arm, name
UNION ALL
SELECT 'segment', t.experience, t.arm, t.units, 0, t.units_in_several_arms, NULL,
       ${arm_metric_columns}, NULL, t.segment_path, t.segment_value
FROM segment_totals t

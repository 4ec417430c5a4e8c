-- Earnest nightly report: the aggregation of earnest.report.aggregation, as one query over the
-- Glue table of events (Athena / Trino; the tests run it with DuckDB). For a window larger
-- than one Lambda run can read (docs/report.md, "Scale").
--
-- Filled in by earnest.report.sql.render, each where the query below names it as a
-- placeholder (named here without one, so this comment stays as written):
--   events         the events table (Athena: earnest_<stage>.events; partitions dt, hour)
--   start_dt       first partition day read (YYYY-MM-DD)
--   end_dt         the last partition day read (the report's date + the late days)
--   experiences    rows (experience, attribution_days, conversion_name or NULL, since,
--                  until): the experiences reported, which conversions count for each, and
--                  the event times of the exposures its arms count (its allocation)
--   program_since  the first event time of coverage and the program (the lookback)
--   until          the end of the report's day: no event stamped at or after it counts
--   erased         rows (unit_id): erased subjects, whose events are left out
--   program_attribution_days
--
-- One result set; `section` says what a row is:
--   arm       per experience and arm (arm NULL = the holdout): units, exposures,
--             converting units, revenue, revenue squared per unit, units in several arms
--   program   per group (global_holdout | program): the same numbers
--   coverage  per experience and decision reason: exposures (in `exposures`)
--
-- Rules, the same as the Python path: events count by event time, not by partition;
-- duplicates dropped by event_id; a unit belongs to
-- the arm of its first exposure (ties: holdout, then variant id); a conversion counts if
-- it happened at or after that exposure and within attribution_days; conversions are
-- binary per unit, revenue summed per unit.
WITH
experiences (experience, attribution_days, conversion_name, since, until) AS (
  ${experiences}
),
erased (unit_id) AS (
  ${erased}
),
windowed AS (
  SELECT e.*
  FROM ${events} e
  LEFT JOIN erased x ON x.unit_id = e.unit_id
  WHERE e.dt BETWEEN '${start_dt}' AND '${end_dt}'
    AND e.unit_id IS NOT NULL AND e.unit_id <> ''
    AND e.event_id IS NOT NULL
    AND x.unit_id IS NULL
    AND CAST(replace(replace(e.event_time, 'T', ' '), 'Z', '') AS TIMESTAMP)
        < TIMESTAMP '${until}'
),
deduped AS (
  SELECT * FROM (
    SELECT w.*,
           row_number() OVER (PARTITION BY w.type, w.event_id
                              ORDER BY w.receive_time, w.request_id) AS copy_number
    FROM windowed w
  ) numbered
  WHERE copy_number = 1
),
exposures AS (
  SELECT unit_id, experience, reason,
         CASE WHEN reason = 'personalized' THEN variant END AS arm,
         event_time,
         CAST(replace(replace(event_time, 'T', ' '), 'Z', '') AS TIMESTAMP) AS ts
  FROM deduped
  WHERE type = 'exposure'
    AND experience IS NOT NULL AND reason IS NOT NULL AND event_time IS NOT NULL
    AND (reason <> 'personalized' OR variant IS NOT NULL)
),
conversions AS (
  SELECT unit_id,
         coalesce(name, '') AS name,
         coalesce(value, 0.0) AS value,
         CAST(replace(replace(event_time, 'T', ' '), 'Z', '') AS TIMESTAMP) AS ts
  FROM deduped
  WHERE type = 'conversion' AND event_time IS NOT NULL
    AND (value IS NULL OR value >= 0)
),
arm_exposures AS (
  SELECT e.*
  FROM exposures e
  JOIN experiences x ON x.experience = e.experience
  WHERE e.reason IN ('personalized', 'holdout')
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
         count(c.unit_id) AS conversions,
         coalesce(sum(c.value), 0.0) AS revenue
  FROM first_exposure f
  JOIN experiences x ON x.experience = f.experience
  LEFT JOIN conversions c
    ON c.unit_id = f.unit_id
   AND c.ts >= f.ts
   AND date_diff('millisecond', f.ts, c.ts) <= x.attribution_days * 86400000
   AND (x.conversion_name IS NULL OR c.name = x.conversion_name)
  GROUP BY f.experience, f.unit_id, f.arm, f.several
),
arm_totals AS (
  SELECT experience, arm,
         count(*) AS units,
         sum(CASE WHEN conversions > 0 THEN 1 ELSE 0 END) AS conversions,
         sum(revenue) AS revenue,
         sum(revenue * revenue) AS revenue_sq,
         sum(CASE WHEN several THEN 1 ELSE 0 END) AS units_in_several_arms
  FROM unit_outcomes
  GROUP BY experience, arm
),
arm_exposure_counts AS (
  SELECT experience, arm, count(*) AS exposures
  FROM arm_exposures
  GROUP BY experience, arm
),
program_exposures AS (
  SELECT unit_id, event_time, ts, reason = 'global_holdout' AS in_global
  FROM program_window
  WHERE reason IN ('personalized', 'holdout', 'global_holdout')
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
program_totals AS (
  SELECT CASE WHEN in_global THEN 'global_holdout' ELSE 'program' END AS arm,
         count(*) AS units,
         sum(CASE WHEN conversions > 0 THEN 1 ELSE 0 END) AS conversions,
         sum(revenue) AS revenue,
         sum(revenue * revenue) AS revenue_sq,
         sum(CASE WHEN several THEN 1 ELSE 0 END) AS units_in_several_arms
  FROM program_outcomes
  GROUP BY CASE WHEN in_global THEN 'global_holdout' ELSE 'program' END
),
program_exposure_counts AS (
  SELECT CASE WHEN in_global THEN 'global_holdout' ELSE 'program' END AS arm,
         count(*) AS exposures
  FROM program_exposures
  GROUP BY CASE WHEN in_global THEN 'global_holdout' ELSE 'program' END
)
-- Driven by the exposure counts: an arm whose units all count elsewhere still shows.
SELECT 'arm' AS section, n.experience, n.arm, coalesce(t.units, 0) AS units, n.exposures,
       coalesce(t.conversions, 0), coalesce(t.revenue, 0.0), coalesce(t.revenue_sq, 0.0),
       coalesce(t.units_in_several_arms, 0)
FROM arm_exposure_counts n
LEFT JOIN arm_totals t
  ON t.experience = n.experience AND coalesce(t.arm, '') = coalesce(n.arm, '')
UNION ALL
SELECT 'program', NULL, t.arm, t.units, coalesce(n.exposures, 0), t.conversions, t.revenue,
       t.revenue_sq, t.units_in_several_arms
FROM program_totals t
LEFT JOIN program_exposure_counts n ON n.arm = t.arm
UNION ALL
SELECT 'coverage', experience, reason, NULL, count(*), NULL, NULL, NULL, NULL
FROM program_window
GROUP BY experience, reason

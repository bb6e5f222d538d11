//! The day conventions in SQL: every query of the store that asks "who lived here at instant X",
//! "which episode covers day E", "where does an event belong" or "is this code inside the area"
//! builds its condition with the functions below, so each convention is written once.
//!
//! The conventions are those of [`renkou_core::period`] and
//! [`renkou_core::register::ResidenceEpisode`]:
//!
//! - **Instants are 00:00 of a day.** A stock is counted at 00:00 of day X (`population_start`:
//!   X = the period's first day; `population_end`: X = the day after the last, i.e. 24:00 of the
//!   last day).
//! - **Events happen during a day.** An episode's `valid_from` is the day of arrival and `valid_to`
//!   the day of departure; NULL means "before the records" and "open". So an episode is *open at*
//!   00:00 of X iff `(valid_from IS NULL OR valid_from < X) AND (valid_to IS NULL OR valid_to >= X)`:
//!   a person who moved in on X is not yet there at 00:00 of X, one who moved out or died on X
//!   still is.
//! - **Nobody is resident before birth or after death**, whatever the episode says: a person born
//!   on day X (during X) is not resident at 00:00 of X (`birth_date < X`), and a person who died
//!   on day D is not resident at 00:00 of any X > D (`death_date >= X`; a death closes episodes
//!   with `valid_to = D` anyway, this only guards against an episode left open).
//! - **An episode covers day E** iff `(valid_from IS NULL OR valid_from <= E) AND
//!   (valid_to IS NULL OR valid_to >= E)`: both the episode left and the one entered on E cover E.
//! - **The area of an event** (a birth on the child's birth date, a death on its day) is the area
//!   of the person's one registered episode covering the day, chosen as the one with the earliest
//!   start (unknown start first), then the earliest end (open last), then area code and id: the
//!   first episode of the day's chain. On a day with a move that is the area the person was in at
//!   00:00 of the day (a death), or the area the person was born into (a child who moved on its
//!   birth day: `[E, E]` before `[E, open)`). Every figure, list and chart counts the event there,
//!   once.
//! - **A marriage is in force at the end of day E** iff it began on or before E and did not end on
//!   or before E.
//! - **Area scopes** are code ranges (`AreaCode::code_range`): `code >= lo AND code < hi`.
//!
//! The functions take SQL expressions (aliases, `$n` placeholders, columns) and return fragments;
//! they never see user input. They use only `IS NULL`, comparisons and `NULLS FIRST`/`LAST`, which SQLite
//! and PostgreSQL read the same way.

/// Episode `r` (a `residence` alias) is open at 00:00 of day `x`.
pub(crate) fn open_at(r: &str, x: &str) -> String {
    format!("({r}.valid_from IS NULL OR {r}.valid_from < {x}) AND ({r}.valid_to IS NULL OR {r}.valid_to >= {x})")
}

/// Person `p` (a `person` alias) with episode `r` is resident at 00:00 of day `x`: the episode is
/// open, the person was born before that instant and had not died before day `x`. `d` is the
/// alias of the person's death row, joined with [`death_join`] (NULL columns when alive).
pub(crate) fn resident_at(r: &str, p: &str, d: &str, x: &str) -> String {
    format!("{open} AND {p}.birth_date < {x} AND ({d}.death_date IS NULL OR {d}.death_date >= {x})", open = open_at(r, x))
}

/// ` LEFT JOIN death d ON d.person_id = p.id`: the death row (if any) of person `p` as alias `d`,
/// for [`resident_at`]. One probe of the death table's unique person index per row.
pub(crate) fn death_join(p: &str, d: &str) -> String {
    format!(" LEFT JOIN death {d} ON {d}.person_id = {p}.id")
}

/// Episode `r` covers day `e` (an event's day).
pub(crate) fn covers(r: &str, e: &str) -> String {
    format!("({r}.valid_from IS NULL OR {r}.valid_from <= {e}) AND ({r}.valid_to IS NULL OR {r}.valid_to >= {e})")
}

/// Episode `r` covers at least one day of `first..=last`: every episode open at an instant of the
/// period or covering one of its days passes (a pre-filter that the range index can use).
pub(crate) fn overlaps(r: &str, first: &str, last: &str) -> String {
    format!("({r}.valid_from IS NULL OR {r}.valid_from <= {last}) AND ({r}.valid_to IS NULL OR {r}.valid_to >= {first})")
}

/// Episode `r` is open now (not ended): the current state.
pub(crate) fn open_now(r: &str) -> String {
    format!("{r}.valid_to IS NULL")
}

/// Episode `r` starts (arrival) on a day of `first..=last`.
pub(crate) fn starts_within(r: &str, first: &str, last: &str) -> String {
    format!("{r}.valid_from >= {first} AND {r}.valid_from <= {last}")
}

/// Episode `r` ends (departure) on a day of `first..=last`.
pub(crate) fn ends_within(r: &str, first: &str, last: &str) -> String {
    format!("{r}.valid_to >= {first} AND {r}.valid_to <= {last}")
}

/// Episode `r` starts (arrival) on day `e`.
pub(crate) fn starts_on(r: &str, e: &str) -> String {
    format!("{r}.valid_from = {e}")
}

/// Episode `r` ends (departure) on day `e`.
pub(crate) fn ends_on(r: &str, e: &str) -> String {
    format!("{r}.valid_to = {e}")
}

/// The area code of the event of `person` (an id expression) on day `date`: the registered
/// episode covering the day with the earliest start (see the module's conventions), NULL when
/// none covers it. Looked up by person, so the planner uses the (person, kind, dates) index.
pub(crate) fn event_area(person: &str, date: &str) -> String {
    format!(
        "(SELECT ea.area_code FROM residence ea WHERE ea.person_id = {person} AND ea.kind = 'registered' AND {covers} \
          ORDER BY ea.valid_from NULLS FIRST, ea.valid_to NULLS LAST, ea.area_code, ea.id LIMIT 1)",
        covers = covers("ea", date)
    )
}

/// The area code of the latest registered episode of `person` (an open one first, then the
/// latest end), NULL when there is none: where a person "is" in lists.
pub(crate) fn latest_registered_area(person: &str) -> String {
    format!(
        "(SELECT la.area_code FROM residence la WHERE la.person_id = {person} AND la.kind = 'registered' \
          ORDER BY (la.valid_to IS NULL) DESC, la.valid_to DESC LIMIT 1)"
    )
}

/// Marriage `m` is in force at 24:00 of day `e`: begun on or before `e`, not ended on or before
/// `e` (a divorce or a spouse's death on `e` ends it that day).
pub(crate) fn married_at_end_of(m: &str, e: &str) -> String {
    format!("({m}.start_date IS NULL OR {m}.start_date <= {e}) AND ({m}.end_date IS NULL OR {m}.end_date > {e})")
}

/// `ORDER BY` terms listing episodes `r` oldest first: unknown start first, then by start, then
/// in the order they were recorded.
pub(crate) fn oldest_first(r: &str) -> String {
    format!("{r}.valid_from IS NOT NULL, {r}.valid_from, {r}.id")
}

/// `col` lies inside the area scope `[lo, hi)` (`AreaCode::code_range`).
pub(crate) fn in_scope(col: &str, lo: &str, hi: &str) -> String {
    format!("{col} >= {lo} AND {col} < {hi}")
}

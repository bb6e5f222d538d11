//! The register engine (登记引擎): the closed set of changes to the register, as commands, and
//! what each one does, decided once and purely here.
//!
//! Every change to the register — an import row, a web form, a JSON API call, a reconciliation
//! or campaign outcome — is a [`Command`]. An [`Engine`] holds the state of the persons and
//! households the commands touch (loaded from the store by the app, plus what earlier commands
//! created) and [`Engine::apply`] checks one command against that state and turns it into
//! records of a [`RegisterBatch`]: which episodes and marriages end, what the recorded marital
//! status becomes, who joins which household. A refused command changes nothing (every check
//! runs before the first change). The app writes the resulting batch and its audit entries in
//! one transaction (`renkou_app::register::apply`).
//!
//! Day conventions are those of [`crate::register::ResidenceEpisode`]: an episode ends on the day
//! of departure and the next one starts on the same day (a move on day D: resident in the old
//! area at 00:00 of D, in the new one from 00:00 of D+1).
//!
//! What is refused, for every command: a date after `today` or before the person's birth; any
//! change to a person after their death (the death day itself is allowed: episodes and
//! marriages end on it); a second open episode of one kind; an end of an episode or marriage
//! that is not open or that ends before it began; a marriage while one is open (一夫一妻,
//! 民法典 第1041条) or between persons of the same sex (the register records marriages of a man
//! and a woman, 民法典 第1049条 registration); a child born after the mother's death or before a
//! parent's birth.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::area::AreaCode;
use crate::citizen_id::CitizenId;
use crate::register::*;

mod engine;
pub use engine::{child_relationship, Engine};

/// Who a move-in or an inflow is about: a person known to the register (in any area of the
/// database) or a person new to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arrival {
    /// A stored person or one created by an earlier command of the batch.
    Known(PersonRef),
    /// A person new to the register (`household`/`relationship_to_head` of the record are ignored:
    /// the command's own fields say where the person lives).
    New(Box<NewPerson>),
}

/// The spouse of a marriage: in the register, or named only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Spouse {
    /// A person of the register.
    Registered(PersonRef),
    /// A spouse who is not in the register (name, and ID when known).
    Outside {
        /// 配偶姓名.
        name: String,
        /// 配偶公民身份号码.
        citizen_id: Option<CitizenId>,
    },
}

/// What a villager group assignment applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupTarget {
    /// One person: the person's open registered (and outflow) episode.
    Person(PersonRef),
    /// A household: its area and the open episodes of every current member.
    Household(HouseholdRef),
}

/// A change to the register (登记事项). Dates are days (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// 出生登记: a new person, the birth record, a registered episode from the birth date in
    /// `area` (default: the mother's registered area) and membership of `household` (default:
    /// the mother's, with the relationship derived from hers).
    Birth {
        /// The child (its `household` and `relationship_to_head` fields are ignored).
        child: Box<NewPerson>,
        /// Mother in the register.
        mother: Option<PersonRef>,
        /// Father in the register.
        father: Option<PersonRef>,
        /// 孩次 (default: the mother's recorded children + 1).
        birth_order: Option<u8>,
        /// 政策内 / 政策外 as recorded.
        policy: Option<PolicyClass>,
        /// Area of registration (default: the mother's).
        area: Option<AreaCode>,
        /// Household (default: the mother's).
        household: Option<HouseholdRef>,
    },
    /// 死亡登记: the death; every open episode ends on the day; an open marriage ends (reason
    /// death) and the surviving spouse becomes 丧偶.
    Death {
        /// Who died.
        person: PersonRef,
        /// Day of death.
        date: NaiveDate,
    },
    /// 结婚登记: a new open marriage; both spouses in the register become 已婚.
    Marriage {
        /// One spouse (wife or husband by sex).
        person: PersonRef,
        /// The other.
        spouse: Spouse,
        /// Day of the marriage (`None`: before the records).
        date: Option<NaiveDate>,
    },
    /// 离婚登记: the open marriage ends (reason divorce); both become 离婚.
    Divorce {
        /// One spouse.
        person: PersonRef,
        /// The other, when the marriage is with a registered spouse (default: the open one's).
        spouse: Option<PersonRef>,
        /// Day of the divorce.
        date: NaiveDate,
    },
    /// 丧偶: the open marriage of `person` ends by the death of a spouse outside the register
    /// (a registered spouse's death is [`Command::Death`]); the person becomes 丧偶.
    Widowhood {
        /// The survivor.
        person: PersonRef,
        /// Day of the spouse's death.
        date: NaiveDate,
    },
    /// 户籍迁入: a registered episode from `date` in `area`. A known person must have no open
    /// registered episode (the move-out from the other area is recorded first, or use
    /// [`Command::Move`]).
    MoveIn {
        /// Who arrives.
        person: Arrival,
        /// Village or group.
        area: AreaCode,
        /// Day of arrival.
        date: NaiveDate,
        /// Household joined, when any.
        household: Option<HouseholdRef>,
        /// 与户主关系 in that household.
        relationship: Option<String>,
    },
    /// 户籍迁出: the open registered episode (and an open outflow, which was counted from it)
    /// ends; the person leaves the household.
    MoveOut {
        /// Who leaves.
        person: PersonRef,
        /// Day of departure.
        date: NaiveDate,
        /// Only when the open registered episode lies in this area (an import's 地区 column).
        #[serde(default)]
        area: Option<AreaCode>,
    },
    /// 迁移 between villages or groups of the register (one command): the registered episode
    /// ends on `date` and one starts in `to` on the same day; an open outflow ends.
    Move {
        /// Who moves.
        person: PersonRef,
        /// Destination village or group.
        to: AreaCode,
        /// Day of the move.
        date: NaiveDate,
        /// Household joined at the destination (default: none, unless the current one is in
        /// the destination's village).
        household: Option<HouseholdRef>,
        /// 与户主关系 there.
        relationship: Option<String>,
    },
    /// 流入: an inflow episode (lives here, registered elsewhere) from `date` in `area`.
    InflowStart {
        /// Who arrives.
        person: Arrival,
        /// Village or group.
        area: AreaCode,
        /// Day of arrival.
        date: NaiveDate,
    },
    /// 流出: an outflow episode from `date` in the area of registration (or `area`, inside it).
    OutflowStart {
        /// Who leaves to live elsewhere.
        person: PersonRef,
        /// Day of departure.
        date: NaiveDate,
        /// Area of the outflow (default: the registered area).
        area: Option<AreaCode>,
    },
    /// 流动结束: the open inflow or outflow episode ends (`kind` says which when both are open).
    FloatingEnd {
        /// Whose.
        person: PersonRef,
        /// Inflow or outflow (`None`: the only one open).
        kind: Option<ResidenceKind>,
        /// Day it ends.
        date: NaiveDate,
        /// Only when the open episode lies in this area (an import's 地区 column).
        #[serde(default)]
        area: Option<AreaCode>,
    },
    /// 立户: a new household in `area`, with `head` (when given) as 户主.
    HouseholdCreate {
        /// 户号, unique in the register.
        household_no: String,
        /// Village or group.
        area: AreaCode,
        /// The head.
        head: Option<PersonRef>,
    },
    /// 入户: `person` joins `household` with `relationship` (leaving any other one).
    HouseholdJoin {
        /// Who.
        person: PersonRef,
        /// Which household.
        household: HouseholdRef,
        /// 与户主关系.
        relationship: String,
    },
    /// 离户: `person` leaves their household (a head must hand over first).
    HouseholdLeave {
        /// Who.
        person: PersonRef,
    },
    /// 变更户主: `head` (a member) becomes 户主; the former head gets `former_head_relationship`.
    HouseholdChangeHead {
        /// Which household.
        household: HouseholdRef,
        /// The new head.
        head: PersonRef,
        /// The former head's relationship to the new head.
        former_head_relationship: String,
    },
    /// 分户: `members` of `from` (not its head) form a new household `household_no` in the same
    /// area, with `head` (one of them) as 户主.
    HouseholdSplit {
        /// The household split.
        from: HouseholdRef,
        /// 户号 of the new household.
        household_no: String,
        /// Who moves to it.
        members: Vec<PersonRef>,
        /// Its head.
        head: PersonRef,
    },
    /// 分配村民小组: a person or a household is in villager group `group` (of the same village)
    /// from now on. Not a move: no episode ends, no date.
    AssignGroup {
        /// Person or household.
        target: GroupTarget,
        /// A villager group (15-digit code).
        group: AreaCode,
    },
    /// 更正: a stored person's own fields are corrected (every field is the value wanted).
    Correction {
        /// The corrected record.
        fields: Box<PersonCorrection>,
        /// 更正原因 (required).
        reason: String,
    },
}

impl Command {
    /// The audit action of the command (`death.record`, `household.create`, …).
    pub fn action(&self) -> &'static str {
        match self {
            Command::Birth { .. } => "birth.record",
            Command::Death { .. } => "death.record",
            Command::Marriage { .. } => "marriage.record",
            Command::Divorce { .. } => "divorce.record",
            Command::Widowhood { .. } => "widowhood.record",
            Command::MoveIn { .. } => "move_in.record",
            Command::MoveOut { .. } => "move_out.record",
            Command::Move { .. } => "move.record",
            Command::InflowStart { .. } => "inflow.record",
            Command::OutflowStart { .. } => "outflow.record",
            Command::FloatingEnd { .. } => "floating_end.record",
            Command::HouseholdCreate { .. } => "household.create",
            Command::HouseholdJoin { .. } => "household.join",
            Command::HouseholdLeave { .. } => "household.leave",
            Command::HouseholdChangeHead { .. } => "household.change_head",
            Command::HouseholdSplit { .. } => "household.split",
            Command::AssignGroup { .. } => "group.assign",
            Command::Correction { .. } => "person.correct",
        }
    }

    /// The stored persons the command names (the app loads their state before applying).
    pub fn stored_persons(&self) -> Vec<i64> {
        let mut out: Vec<i64> = self.persons().into_iter().filter_map(|r| if let PersonRef::Stored(id) = r { Some(id) } else { None }).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The persons of the batch (an import's persons file) the command names.
    pub fn batch_persons(&self) -> Vec<usize> {
        self.persons().into_iter().filter_map(|r| if let PersonRef::Batch(i) = r { Some(i) } else { None }).collect()
    }

    /// Every person the command names.
    fn persons(&self) -> Vec<PersonRef> {
        let mut out = Vec::new();
        let mut add = |r: &PersonRef| out.push(*r);
        match self {
            Command::Birth { mother, father, .. } => {
                mother.iter().chain(father.iter()).for_each(&mut add);
            }
            Command::Death { person, .. }
            | Command::Divorce { person, spouse: None, .. }
            | Command::Widowhood { person, .. }
            | Command::MoveOut { person, .. }
            | Command::Move { person, .. }
            | Command::OutflowStart { person, .. }
            | Command::FloatingEnd { person, .. }
            | Command::HouseholdJoin { person, .. }
            | Command::HouseholdLeave { person } => add(person),
            Command::Divorce { person, spouse: Some(s), .. } => {
                add(person);
                add(s);
            }
            Command::Marriage { person, spouse, .. } => {
                add(person);
                if let Spouse::Registered(s) = spouse {
                    add(s);
                }
            }
            Command::MoveIn { person: Arrival::Known(p), .. } | Command::InflowStart { person: Arrival::Known(p), .. } => add(p),
            Command::MoveIn { .. } | Command::InflowStart { .. } => {}
            Command::HouseholdCreate { head, .. } => head.iter().for_each(&mut add),
            Command::HouseholdChangeHead { head, .. } => add(head),
            Command::HouseholdSplit { members, head, .. } => {
                members.iter().for_each(&mut add);
                add(head);
            }
            Command::AssignGroup { target: GroupTarget::Person(p), .. } => add(p),
            Command::AssignGroup { .. } => {}
            Command::Correction { fields, .. } => add(&fields.person),
        }
        out
    }

    /// The stored households the command names.
    pub fn stored_households(&self) -> Vec<i64> {
        let h = match self {
            Command::Birth { household, .. } | Command::MoveIn { household, .. } | Command::Move { household, .. } => *household,
            Command::HouseholdJoin { household, .. } | Command::HouseholdChangeHead { household, .. } => Some(*household),
            Command::HouseholdSplit { from, .. } => Some(*from),
            Command::AssignGroup { target: GroupTarget::Household(h), .. } => Some(*h),
            _ => None,
        };
        match h {
            Some(HouseholdRef::Stored(id)) => vec![id],
            _ => Vec::new(),
        }
    }

    /// The areas the command names (the app checks that they exist and lie in the caller's scope).
    pub fn areas(&self) -> Vec<&AreaCode> {
        match self {
            Command::Birth { area, .. } => area.iter().collect(),
            Command::MoveIn { area, .. } | Command::InflowStart { area, .. } | Command::HouseholdCreate { area, .. } => vec![area],
            Command::Move { to, .. } => vec![to],
            Command::OutflowStart { area, .. } => area.iter().collect(),
            Command::AssignGroup { group, .. } => vec![group],
            _ => Vec::new(),
        }
    }
}

/// An open residence episode as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenEpisode {
    /// Registered, inflow or outflow.
    pub kind: ResidenceKind,
    /// Where.
    pub area: AreaCode,
    /// Day of arrival (`None`: before the records).
    pub from: Option<NaiveDate>,
    /// Index into the batch's `residences` when the episode was created by this batch.
    pub batch: Option<usize>,
}

/// An open marriage as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenMarriage {
    /// The registered spouse.
    pub spouse: Option<PersonRef>,
    /// Day of marriage.
    pub start: Option<NaiveDate>,
    /// Index into the batch's `marriages` when created by this batch.
    pub batch: Option<usize>,
}

/// The state of one person that commands are checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonState {
    /// Name (for messages).
    pub name: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Death date.
    pub death: Option<NaiveDate>,
    /// Recorded marital status.
    pub marital_status: MaritalStatus,
    /// Open episodes.
    pub open: Vec<OpenEpisode>,
    /// Latest end of a closed episode, by kind.
    pub last_end: Vec<(ResidenceKind, NaiveDate)>,
    /// Open marriages (at most one unless the stored register says otherwise).
    pub marriages: Vec<OpenMarriage>,
    /// Latest end of a closed marriage.
    pub last_marriage_end: Option<NaiveDate>,
    /// Current household.
    pub household: Option<HouseholdRef>,
    /// 与户主关系.
    pub relationship: Option<String>,
    /// Recorded children (births with this person as mother).
    pub children: u32,
    /// Latest day the person's own fields constrain a correction: earliest child birth, earliest
    /// episode start (a corrected birth date must lie before them).
    pub earliest_child_birth: Option<NaiveDate>,
    /// Earliest episode start.
    pub earliest_episode_start: Option<NaiveDate>,
}

/// A household as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdState {
    /// 户号.
    pub household_no: String,
    /// Area.
    pub area: AreaCode,
    /// Current members (the app loads every member of a stored household named by a command).
    pub members: Vec<PersonRef>,
}

/// Why a command was refused: the field it is about (form field names: `person`, `date`,
/// `area`, `spouse`, `mother`, `father`, `household`, `household_no`, `head`, `group`,
/// `citizen_id`, `birth_date`, `reason`, …) and the reason, in Chinese with the English in
/// brackets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{field}: {reason}")]
pub struct Refusal {
    /// The field.
    pub field: &'static str,
    /// The reason.
    pub reason: String,
}

pub(crate) fn refuse<T>(field: &'static str, reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal { field, reason: reason.into() })
}

/// What an applied command created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// The person created (birth, arrival of a new person).
    pub person: Option<PersonRef>,
    /// The household created (create, split).
    pub household: Option<HouseholdRef>,
}

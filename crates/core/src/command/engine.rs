//! The engine: [`Engine::apply`] checks one [`Command`] against the state and turns it into
//! batch records (see the module above for what each command does).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::*;
use crate::area::{AreaCode, AreaLevel};

/// The register engine: state of the touched persons and households, and the batch the applied
/// commands have produced so far.
#[derive(Debug, Clone)]
pub struct Engine {
    today: NaiveDate,
    batch: RegisterBatch,
    persons: HashMap<PersonRef, PersonState>,
    households: HashMap<HouseholdRef, HouseholdState>,
    /// Household numbers known to exist (stored ones named by the app, and the batch's).
    taken_household_nos: HashSet<String>,
}

/// The relationship to the head of a child born to a mother with relationship `mother` in the
/// household (GB/T 4761-2008 terms).
pub fn child_relationship(mother: Option<&str>, sex: Sex) -> &'static str {
    match (mother, sex) {
        (Some("户主" | "配偶"), Sex::Male) => "子",
        (Some("户主" | "配偶"), Sex::Female) => "女",
        (Some("儿媳" | "子"), Sex::Male) => "孙子",
        (Some("儿媳" | "子"), Sex::Female) => "孙女",
        (Some("女" | "女婿"), Sex::Male) => "外孙子",
        (Some("女" | "女婿"), Sex::Female) => "外孙女",
        _ => "其他亲属",
    }
}

/// Below this age in completed years at a child's birth nobody is its parent: a refusal, where
/// an implausible but possible age (a mother of 14) is a logic check's warning.
pub const MIN_PARENT_AGE: i32 = 10;

fn village_of(a: &AreaCode) -> Option<AreaCode> {
    a.ancestor_at(AreaLevel::Village)
}

fn township_of(a: &AreaCode) -> Option<AreaCode> {
    a.ancestor_at(AreaLevel::Township)
}

fn check_relationship(field: &'static str, r: &str) -> Result<(), Refusal> {
    if RELATIONSHIPS_TO_HEAD.contains(&r) {
        Ok(())
    } else {
        refuse(field, format!("与户主关系 {r:?} 应为 {} 之一 (GB/T 4761-2008)", RELATIONSHIPS_TO_HEAD.join("、")))
    }
}

impl Engine {
    /// An engine over `persons` and `households` (the stored state the app loaded), applying
    /// to a batch that starts as `batch` (an import's persons file: its persons and households
    /// get a state from their records). `taken_household_nos`: household numbers already stored
    /// among those the commands will create.
    pub fn new(
        today: NaiveDate,
        batch: RegisterBatch,
        persons: HashMap<PersonRef, PersonState>,
        households: HashMap<HouseholdRef, HouseholdState>,
        taken_household_nos: HashSet<String>,
    ) -> Engine {
        Self::tracking(today, batch, persons, households, taken_household_nos, None)
    }

    /// As [`Engine::new`], keeping a state only for the batch persons `tracked` names (by index)
    /// and those whose state a command on them reads: their spouses and the members of their
    /// households. An import of a county's persons file with a few events then holds a state for
    /// a few persons, not for a million. `None` tracks every batch person.
    pub fn tracking(
        today: NaiveDate,
        batch: RegisterBatch,
        persons: HashMap<PersonRef, PersonState>,
        households: HashMap<HouseholdRef, HouseholdState>,
        taken_household_nos: HashSet<String>,
        tracked: Option<HashSet<usize>>,
    ) -> Engine {
        let tracked = tracked.map(|mut t| {
            for m in &batch.marriages {
                if let (Some(PersonRef::Batch(w)), Some(PersonRef::Batch(h))) = (m.wife, m.husband) {
                    if t.contains(&w) {
                        t.insert(h);
                    } else if t.contains(&h) {
                        t.insert(w);
                    }
                }
            }
            let homes: HashSet<usize> = t.iter().filter_map(|&i| batch.persons.get(i).and_then(|p| p.household)).collect();
            for (i, p) in batch.persons.iter().enumerate() {
                if p.household.is_some_and(|h| homes.contains(&h)) {
                    t.insert(i);
                }
            }
            t
        });
        let mut e = Engine { today, batch, persons, households, taken_household_nos };
        for (i, h) in e.batch.households.iter().enumerate() {
            e.taken_household_nos.insert(h.household_no.clone());
            e.households.insert(HouseholdRef::Batch(i), HouseholdState { household_no: h.household_no.clone(), area: h.area.clone(), members: Vec::new() });
        }
        for (i, p) in e.batch.persons.iter().enumerate() {
            if tracked.as_ref().is_some_and(|t| !t.contains(&i)) {
                continue;
            }
            let me = PersonRef::Batch(i);
            let household = p.household.map(HouseholdRef::Batch);
            if let Some(h) = household.and_then(|h| e.households.get_mut(&h)) {
                h.members.push(me);
            }
            e.persons.insert(me, new_state(p, household));
        }
        for (i, r) in e.batch.residences.iter().enumerate() {
            let Some(s) = e.persons.get_mut(&r.person) else { continue };
            if r.from.is_some_and(|f| s.earliest_episode_start.is_none_or(|x| f < x)) {
                s.earliest_episode_start = r.from;
            }
            match r.to {
                None => s.open.push(OpenEpisode { kind: r.kind, area: r.area.clone(), from: r.from, batch: Some(i) }),
                Some(t) => set_last_end(&mut s.last_end, r.kind, t),
            }
        }
        for (i, m) in e.batch.marriages.iter().enumerate() {
            for (me, other) in [(m.wife, m.husband), (m.husband, m.wife)] {
                let Some(s) = me.and_then(|me| e.persons.get_mut(&me)) else { continue };
                match m.end {
                    None => s.marriages.push(OpenMarriage { spouse: other, start: m.start, batch: Some(i) }),
                    Some(end) => s.last_marriage_end = Some(s.last_marriage_end.map_or(end, |x| x.max(end))),
                }
            }
        }
        for b in &e.batch.births {
            if let Some(s) = b.mother.and_then(|m| e.persons.get_mut(&m)) {
                s.children += 1;
            }
        }
        let deaths: Vec<(PersonRef, NaiveDate)> = e.batch.deaths.iter().map(|d| (d.person, d.date)).collect();
        for (p, d) in deaths {
            if let Some(s) = e.persons.get_mut(&p) {
                s.death = Some(d);
            }
        }
        e
    }

    /// The state of a person, when known to the engine.
    pub fn person(&self, p: PersonRef) -> Option<&PersonState> {
        self.persons.get(&p)
    }

    /// The batch produced so far.
    pub fn batch(&self) -> &RegisterBatch {
        &self.batch
    }

    /// The batch of every applied command (the app writes it in one transaction).
    pub fn finish(self) -> RegisterBatch {
        self.batch
    }

    fn state(&self, field: &'static str, p: PersonRef) -> Result<&PersonState, Refusal> {
        match self.persons.get(&p) {
            Some(s) => Ok(s),
            None => refuse(field, "人员不存在或不在您的管辖范围内 (no such person)"),
        }
    }

    fn household_state(&self, field: &'static str, h: HouseholdRef) -> Result<&HouseholdState, Refusal> {
        match self.households.get(&h) {
            Some(s) => Ok(s),
            None => refuse(field, "户不存在或不在您的管辖范围内 (no such household)"),
        }
    }

    fn check_date(&self, field: &'static str, s: &PersonState, date: NaiveDate) -> Result<(), Refusal> {
        if date > self.today {
            return refuse(field, format!("日期 {date} 晚于今天 {} (date in the future)", self.today));
        }
        if date < s.birth_date {
            return refuse(field, format!("日期 {date} 早于{}的出生日期 {} (before birth)", s.name, s.birth_date));
        }
        if let Some(d) = s.death {
            if date > d {
                return refuse(field, format!("{}已于 {d} 死亡 (person died on {d})", s.name));
            }
        }
        Ok(())
    }

    fn alive(&self, field: &'static str, s: &PersonState) -> Result<(), Refusal> {
        match s.death {
            Some(d) => refuse(field, format!("{}已于 {d} 死亡 (person died on {d})", s.name)),
            None => Ok(()),
        }
    }

    fn open_of(s: &PersonState, kind: ResidenceKind) -> Vec<&OpenEpisode> {
        s.open.iter().filter(|e| e.kind == kind).collect()
    }

    /// The one open episode of `kind` (refused when none or several).
    fn one_open<'a>(field: &'static str, s: &'a PersonState, kind: ResidenceKind) -> Result<&'a OpenEpisode, Refusal> {
        match Self::open_of(s, kind).as_slice() {
            [e] => Ok(e),
            [] => refuse(field, format!("{}没有未结束的{}记录 (no open {} episode)", s.name, kind.name_zh(), kind.code())),
            many => refuse(field, format!("{}有 {} 条未结束的{}记录, 请先更正 (several open {} episodes)", s.name, many.len(), kind.name_zh(), kind.code())),
        }
    }

    fn check_start(field: &'static str, s: &PersonState, kind: ResidenceKind, date: NaiveDate) -> Result<(), Refusal> {
        if let Some(e) = Self::open_of(s, kind).first() {
            return refuse(field, format!("{}已有未结束的{}记录 (在 {}), 请先结束 (an open {} episode exists)", s.name, kind.name_zh(), e.area, kind.code()));
        }
        if let Some((_, end)) = s.last_end.iter().find(|(k, _)| *k == kind) {
            if date < *end {
                return refuse("date", format!("日期 {date} 早于上一条{}记录的结束日期 {end} (starts before the previous episode ended)", kind.name_zh()));
            }
        }
        Ok(())
    }

    /// An end restricted to `area` applies only to an episode inside it.
    fn check_area(area: Option<&AreaCode>, e: &OpenEpisode) -> Result<(), Refusal> {
        match area {
            Some(a) if !a.contains(&e.area) => {
                refuse("area", format!("此人未结束的{}记录在 {}, 不在 {a} (the open episode is in another area)", e.kind.name_zh(), e.area))
            }
            _ => Ok(()),
        }
    }

    fn check_end(field: &'static str, e: &OpenEpisode, date: NaiveDate) -> Result<(), Refusal> {
        match e.from {
            Some(f) if date < f => refuse(field, format!("日期 {date} 早于该{}记录的开始日期 {f} (episode ends before it starts)", e.kind.name_zh())),
            _ => Ok(()),
        }
    }

    // --- changes (called only after every check of a command passed) ---

    fn end_episode(&mut self, p: PersonRef, kind: ResidenceKind, date: NaiveDate) {
        let s = self.persons.get_mut(&p).expect("checked");
        let Some(pos) = s.open.iter().position(|e| e.kind == kind) else { return };
        let e = s.open.remove(pos);
        set_last_end(&mut s.last_end, kind, date);
        match e.batch {
            Some(i) => self.batch.residences[i].to = Some(date),
            None => self.batch.episode_ends.push(EpisodeEnd { person: p, kind, area: Some(e.area), date }),
        }
    }

    fn start_episode(&mut self, p: PersonRef, kind: ResidenceKind, area: AreaCode, date: Option<NaiveDate>) {
        let i = self.batch.residences.len();
        self.batch.residences.push(ResidenceEpisode { person: p, area: area.clone(), kind, from: date, to: None });
        let s = self.persons.get_mut(&p).expect("checked");
        s.open.push(OpenEpisode { kind, area, from: date, batch: Some(i) });
        if date.is_some_and(|d| s.earliest_episode_start.is_none_or(|x| d < x)) {
            s.earliest_episode_start = date;
        }
    }

    fn set_marital(&mut self, p: PersonRef, m: MaritalStatus) {
        let s = self.persons.get_mut(&p).expect("checked");
        s.marital_status = m;
        match p {
            PersonRef::Batch(i) => self.batch.persons[i].marital_status = m,
            PersonRef::Stored(_) => self.batch.marital_updates.push((p, m)),
        }
    }

    fn end_marriage(&mut self, p: PersonRef, date: NaiveDate, reason: MarriageEnd) {
        let s = self.persons.get_mut(&p).expect("checked");
        let Some(m) = s.marriages.pop() else { return };
        s.last_marriage_end = Some(date);
        if let Some(sp) = m.spouse {
            if let Some(o) = self.persons.get_mut(&sp) {
                o.marriages.retain(|x| x.spouse != Some(p));
                o.last_marriage_end = Some(date);
            }
        }
        match m.batch {
            Some(i) => {
                self.batch.marriages[i].end = Some(date);
                self.batch.marriages[i].end_reason = Some(reason);
            }
            None => self.batch.marriage_ends.push(MarriageEndEvent { person: p, spouse: m.spouse, date, reason }),
        }
    }

    fn set_household(&mut self, p: PersonRef, h: Option<HouseholdRef>, relationship: Option<String>) {
        let s = self.persons.get_mut(&p).expect("checked");
        let old = s.household;
        s.household = h;
        s.relationship = relationship.clone();
        if let Some(o) = old.and_then(|o| self.households.get_mut(&o)) {
            o.members.retain(|m| *m != p);
        }
        if let Some(n) = h.and_then(|h| self.households.get_mut(&h)) {
            n.members.push(p);
        }
        if let PersonRef::Batch(i) = p {
            let rec = &mut self.batch.persons[i];
            rec.household = match h {
                Some(HouseholdRef::Batch(hi)) => Some(hi),
                _ => None,
            };
            rec.relationship_to_head = if rec.household.is_some() { relationship.clone() } else { None };
        }
        // Applied last, in order: the final membership wins whatever the batch records say.
        self.batch.memberships.push(Membership { person: p, household: h, relationship });
    }

    fn new_person(&mut self, p: &NewPerson) -> PersonRef {
        let i = self.batch.persons.len();
        let mut rec = p.clone();
        rec.household = None;
        rec.relationship_to_head = None;
        self.batch.persons.push(rec);
        let me = PersonRef::Batch(i);
        self.persons.insert(me, new_state(&self.batch.persons[i], None));
        me
    }

    fn check_new_person(&self, field: &'static str, p: &NewPerson) -> Result<(), Refusal> {
        if p.name.trim().is_empty() {
            return refuse("name", "请填写姓名 (name is empty)");
        }
        if p.birth_date > self.today {
            return refuse(field, format!("出生日期 {} 晚于今天 {} (birth date in the future)", p.birth_date, self.today));
        }
        if let Some(id) = &p.citizen_id {
            let taken = self.batch.persons.iter().any(|q| q.citizen_id.as_ref() == Some(id));
            if taken {
                return refuse("citizen_id", format!("公民身份号码 {id} 已在册 (citizen ID already in the register)"));
            }
        }
        Ok(())
    }

    fn check_household_fits(&self, field: &'static str, h: &HouseholdState, area: &AreaCode) -> Result<(), Refusal> {
        if village_of(&h.area) != village_of(area) || village_of(area).is_none() && h.area != *area {
            return refuse(field, format!("户 {} 在 {}, 与户籍地 {area} 不在同一村 (household is in another village)", h.household_no, h.area));
        }
        Ok(())
    }

    fn registered_area(s: &PersonState) -> Option<&AreaCode> {
        Self::open_of(s, ResidenceKind::Registered).first().map(|e| &e.area)
    }

    fn end_marriage_cmd(&mut self, person: PersonRef, spouse: Option<PersonRef>, date: NaiveDate, widowhood: bool) -> Result<(), Refusal> {
        let (person, date) = (&person, &date);
        let s = self.state("person", *person)?;
        self.check_date("date", s, *date)?;
        let m = match s.marriages.as_slice() {
            [] => return refuse("person", format!("{} 没有未结束的婚姻 (no open marriage)", s.name)),
            [m] => m,
            _ => return refuse("person", format!("{} 有多段未结束的婚姻, 请先更正 (several open marriages)", s.name)),
        };
        if let Some(sp) = spouse {
            if m.spouse != Some(sp) {
                return refuse("spouse", "所填配偶与登记的婚姻不符 (not the recorded spouse)");
            }
        }
        if widowhood && m.spouse.is_some() {
            return refuse("person", "配偶在册: 请登记配偶的死亡 (the spouse is in the register: record the death)");
        }
        if let Some(st) = m.start.filter(|st| *date < *st) {
            return refuse("date", format!("日期 {date} 早于结婚日期 {st} (before the marriage)"));
        }
        let other = m.spouse;
        if let Some(o) = other {
            self.check_date("date", self.state("spouse", o)?, *date)?;
        }
        let reason = if widowhood { MarriageEnd::Death } else { MarriageEnd::Divorce };
        self.end_marriage(*person, *date, reason);
        if widowhood {
            self.set_marital(*person, MaritalStatus::Widowed);
        } else {
            self.set_marital(*person, MaritalStatus::Divorced);
            if let Some(o) = other {
                self.set_marital(o, MaritalStatus::Divorced);
            }
        }
        Ok(())
    }

    fn arrival(
        &mut self,
        person: &Arrival,
        area: &AreaCode,
        date: NaiveDate,
        kind: ResidenceKind,
        household: Option<HouseholdRef>,
        relationship: Option<String>,
    ) -> Result<PersonRef, Refusal> {
        let date = &date;
        if let Some(r) = &relationship {
            check_relationship("relationship", r)?;
        }
        if let Some(h) = household {
            self.check_household_fits("household", self.household_state("household", h)?, area)?;
        }
        let me = match person {
            Arrival::Known(p) => {
                let s = self.state("person", *p)?;
                self.alive("person", s)?;
                self.check_date("date", s, *date)?;
                if kind == ResidenceKind::Registered && !Self::open_of(s, kind).is_empty() {
                    return refuse(
                        "citizen_id",
                        "此人在原户籍地的迁出尚未登记: 请原户籍地先登记迁出 (the move-out from the previous area is not recorded yet)",
                    );
                }
                // 流动人口 (NBS): living in a township other than the one of registration; a
                // person registered in this township who lives in another village of it is not.
                if kind == ResidenceKind::Inflow && Self::open_of(s, ResidenceKind::Registered).iter().any(|e| township_of(&e.area) == township_of(area)) {
                    return refuse("area", "此人户籍在本乡镇, 乡镇内居住地与户籍地不一致不属于流入人口 (registered in this township: not floating population)");
                }
                Self::check_start("person", s, kind, *date)?;
                *p
            }
            Arrival::New(np) => {
                self.check_new_person("citizen_id", np)?;
                if *date > self.today {
                    return refuse("date", format!("日期 {date} 晚于今天 {} (date in the future)", self.today));
                }
                if *date < np.birth_date {
                    return refuse("date", format!("日期 {date} 早于出生日期 {} (before birth)", np.birth_date));
                }
                self.new_person(np)
            }
        };
        self.start_episode(me, kind, area.clone(), Some(*date));
        if kind == ResidenceKind::Registered {
            self.end_inflow_in_township(me, area, *date);
        }
        if household.is_some() {
            self.set_household(me, household, relationship.or(Some("其他亲属".into())));
        }
        Ok(me)
    }

    /// A person who registers in a township where they live as 流入 is no longer floating there:
    /// the inflow ends on the day of registration.
    fn end_inflow_in_township(&mut self, p: PersonRef, area: &AreaCode, date: NaiveDate) {
        let ends = self.persons[&p]
            .open
            .iter()
            .any(|e| e.kind == ResidenceKind::Inflow && township_of(&e.area) == township_of(area) && e.from.is_none_or(|f| f <= date));
        if ends {
            self.end_episode(p, ResidenceKind::Inflow, date);
        }
    }

    /// Checks `cmd` against the state and applies it; a refused command changes nothing.
    ///
    /// Errors: [`Refusal`] naming the field and the reason.
    pub fn apply(&mut self, cmd: &Command) -> Result<Applied, Refusal> {
        let mut out = Applied::default();
        match cmd {
            Command::Birth { child, mother, father, birth_order, policy, area, household } => {
                self.check_new_person("birth_date", child)?;
                let b = child.birth_date;
                let m = match mother {
                    Some(m) => Some(self.state("mother", *m)?),
                    None => None,
                };
                if let Some(m) = m {
                    if m.sex != Sex::Female {
                        return refuse("mother", format!("{} 不是女性 (mother is not female)", m.name));
                    }
                    if m.birth_date >= b {
                        return refuse("birth_date", format!("出生日期 {b} 不晚于母亲的出生日期 {} (mother born after child)", m.birth_date));
                    }
                    let age = crate::period::age_in_completed_years(m.birth_date, b);
                    if age < MIN_PARENT_AGE {
                        return refuse("mother", format!("{}在孩子出生时仅 {age} 周岁, 不可能是母亲 (a mother aged {age})", m.name));
                    }
                    if let Some(d) = m.death.filter(|d| b > *d) {
                        return refuse("birth_date", format!("母亲已于 {d} 死亡 (mother died before the birth)"));
                    }
                }
                if let Some(f) = father {
                    let f = self.state("father", *f)?;
                    if f.sex != Sex::Male {
                        return refuse("father", format!("{} 不是男性 (father is not male)", f.name));
                    }
                    if f.birth_date >= b {
                        return refuse("birth_date", format!("出生日期 {b} 不晚于父亲的出生日期 {} (father born after child)", f.birth_date));
                    }
                    let age = crate::period::age_in_completed_years(f.birth_date, b);
                    if age < MIN_PARENT_AGE {
                        return refuse("father", format!("{}在孩子出生时仅 {age} 周岁, 不可能是父亲 (a father aged {age})", f.name));
                    }
                }
                let area = match (area, m.and_then(Self::registered_area)) {
                    (Some(a), _) => a.clone(),
                    (None, Some(a)) => a.clone(),
                    (None, None) => return refuse("mother", "母亲没有有效的户籍, 请填写孩子的户籍地 (mother has no open registration: give the area)"),
                };
                let household = household.or(m.and_then(|m| m.household));
                if let Some(h) = household {
                    self.check_household_fits("household", self.household_state("household", h)?, &area)?;
                }
                if birth_order == &Some(0) {
                    return refuse("birth_order", "孩次必须从1开始 (birth order starts at 1)");
                }
                let order = birth_order.or(m.map(|m| (m.children + 1).min(u8::MAX as u32) as u8));
                let relationship = household.map(|_| child_relationship(m.and_then(|m| m.relationship.as_deref()), child.sex).to_string());
                let me = self.new_person(child);
                self.start_episode(me, ResidenceKind::Registered, area, Some(b));
                self.batch.births.push(Birth { child: me, mother: *mother, father: *father, birth_order: order, policy: *policy });
                if let Some(m) = mother {
                    let s = self.persons.get_mut(m).expect("checked");
                    s.children += 1;
                    if s.earliest_child_birth.is_none_or(|x| b < x) {
                        s.earliest_child_birth = Some(b);
                    }
                }
                if let Some(f) = father {
                    let s = self.persons.get_mut(f).expect("checked");
                    if s.earliest_child_birth.is_none_or(|x| b < x) {
                        s.earliest_child_birth = Some(b);
                    }
                }
                if household.is_some() {
                    self.set_household(me, household, relationship);
                }
                out.person = Some(me);
            }
            Command::Death { person, date } => {
                let s = self.state("person", *person)?;
                if let Some(d) = s.death {
                    return refuse("person", format!("{}已于 {d} 登记死亡 (death already recorded)", s.name));
                }
                self.check_date("date", s, *date)?;
                for e in &s.open {
                    Self::check_end("date", e, *date)?;
                }
                if let Some(m) = s.marriages.last() {
                    if m.start.is_some_and(|st| *date < st) {
                        return refuse("date", format!("死亡日期 {date} 早于结婚日期 {} (death before the marriage)", m.start.expect("some")));
                    }
                }
                let kinds: Vec<ResidenceKind> = s.open.iter().map(|e| e.kind).collect();
                let spouse = s.marriages.last().map(|m| m.spouse);
                for k in kinds {
                    self.end_episode(*person, k, *date);
                }
                if let Some(spouse) = spouse {
                    self.end_marriage(*person, *date, MarriageEnd::Death);
                    if let Some(sp) = spouse.filter(|sp| self.persons.get(sp).is_some_and(|x| x.death.is_none())) {
                        self.set_marital(sp, MaritalStatus::Widowed);
                    }
                }
                self.batch.deaths.push(Death { person: *person, date: *date });
                self.persons.get_mut(person).expect("checked").death = Some(*date);
            }
            Command::Marriage { person, spouse, date } => {
                let s = self.state("person", *person)?;
                self.alive("person", s)?;
                if let Some(d) = date {
                    self.check_date("date", s, *d)?;
                }
                if let Some(m) = s.marriages.first() {
                    if matches!(spouse, Spouse::Registered(o) if m.spouse == Some(*o)) {
                        let since = m.start.map_or(String::new(), |d| format!(" (自 {d} 起)"));
                        return refuse("spouse", format!("此二人的婚姻已登记{since} (marriage already recorded)"));
                    }
                    return refuse("person", format!("{} 已有未结束的婚姻, 须先登记离婚或丧偶 (already married: 民法典第1041条)", s.name));
                }
                if let (Some(d), Some(e)) = (date, s.last_marriage_end) {
                    if *d < e {
                        return refuse("date", format!("结婚日期 {d} 早于上一段婚姻的结束日期 {e} (before the previous marriage ended)"));
                    }
                }
                let my_sex = s.sex;
                let (other, outside_name, outside_id) = match spouse {
                    Spouse::Registered(o) => {
                        if o == person {
                            return refuse("spouse", "配偶不能是本人 (spouse is the person)");
                        }
                        let t = self.state("spouse", *o)?;
                        self.alive("spouse", t)?;
                        if let Some(d) = date {
                            self.check_date("date", t, *d)?;
                        }
                        if !t.marriages.is_empty() {
                            return refuse("spouse", format!("{} 已有未结束的婚姻, 须先登记离婚或丧偶 (already married: 民法典第1041条)", t.name));
                        }
                        if let (Some(d), Some(e)) = (date, t.last_marriage_end) {
                            if *d < e {
                                return refuse("date", format!("结婚日期 {d} 早于配偶上一段婚姻的结束日期 {e} (before the spouse's previous marriage ended)"));
                            }
                        }
                        if t.sex == my_sex {
                            return refuse("spouse", "配偶与本人性别相同, 无法登记夫妻 (spouses of the same sex)");
                        }
                        (Some(*o), None, None)
                    }
                    Spouse::Outside { name, citizen_id } => {
                        if name.trim().is_empty() {
                            return refuse("spouse_name", "请填写配偶姓名 (spouse name required)");
                        }
                        if citizen_id.as_ref().is_some_and(|c| c.sex() == my_sex) {
                            return refuse("spouse_citizen_id", "配偶与本人性别相同, 无法登记夫妻 (spouses of the same sex)");
                        }
                        (None, Some(name.trim().to_string()), citizen_id.clone())
                    }
                };
                let me = Some(*person);
                let (wife, husband) = if my_sex == Sex::Female { (me, other) } else { (other, me) };
                let i = self.batch.marriages.len();
                self.batch.marriages.push(Marriage {
                    wife,
                    husband,
                    outside_spouse_name: outside_name,
                    outside_spouse_citizen_id: outside_id,
                    start: *date,
                    end: None,
                    end_reason: None,
                });
                self.persons.get_mut(person).expect("checked").marriages.push(OpenMarriage { spouse: other, start: *date, batch: Some(i) });
                self.set_marital(*person, MaritalStatus::Married);
                if let Some(o) = other {
                    self.persons.get_mut(&o).expect("checked").marriages.push(OpenMarriage { spouse: me, start: *date, batch: Some(i) });
                    self.set_marital(o, MaritalStatus::Married);
                }
            }
            Command::Divorce { person, spouse, date } => self.end_marriage_cmd(*person, *spouse, *date, false)?,
            Command::Widowhood { person, date } => self.end_marriage_cmd(*person, None, *date, true)?,
            Command::MoveIn { person, area, date, household, relationship } => {
                out.person = Some(self.arrival(person, area, *date, ResidenceKind::Registered, *household, relationship.clone())?)
            }
            Command::InflowStart { person, area, date } => out.person = Some(self.arrival(person, area, *date, ResidenceKind::Inflow, None, None)?),
            Command::MoveOut { person, date, area } => {
                let s = self.state("person", *person)?;
                self.check_date("date", s, *date)?;
                let e = Self::one_open("person", s, ResidenceKind::Registered)?;
                Self::check_area(area.as_ref(), e)?;
                Self::check_end("date", e, *date)?;
                let outflow = Self::open_of(s, ResidenceKind::Outflow).first().map(|e| (*e).clone());
                if let Some(o) = &outflow {
                    Self::check_end("date", o, *date)?;
                }
                let in_household = s.household.is_some();
                self.end_episode(*person, ResidenceKind::Registered, *date);
                if outflow.is_some() {
                    self.end_episode(*person, ResidenceKind::Outflow, *date);
                }
                if in_household {
                    self.set_household(*person, None, None);
                }
            }
            Command::Move { person, to, date, household, relationship } => {
                let s = self.state("person", *person)?;
                self.check_date("date", s, *date)?;
                let e = Self::one_open("person", s, ResidenceKind::Registered)?;
                Self::check_end("date", e, *date)?;
                if e.area == *to {
                    return refuse("area", format!("{}的户籍已在 {to} (already registered there)", s.name));
                }
                let outflow = Self::open_of(s, ResidenceKind::Outflow).first().map(|e| (*e).clone());
                if let Some(o) = &outflow {
                    Self::check_end("date", o, *date)?;
                }
                if let Some(r) = relationship {
                    check_relationship("relationship", r)?;
                }
                if let Some(h) = household {
                    self.check_household_fits("household", self.household_state("household", *h)?, to)?;
                }
                // The current household stays only when it is in the destination's village.
                let keep = s.household.and_then(|h| self.households.get(&h)).is_some_and(|h| village_of(&h.area) == village_of(to));
                let current = s.household;
                if let Some(cur) = current.filter(|_| !keep || household.is_some()) {
                    if let Some(h) = self.households.get(&cur) {
                        if s.relationship.as_deref() == Some("户主") && h.members.len() > 1 && household != &Some(cur) {
                            return refuse("person", format!("{}是户 {} 的户主: 请先变更户主 (the head must hand over first)", s.name, h.household_no));
                        }
                    }
                }
                self.end_episode(*person, ResidenceKind::Registered, *date);
                if outflow.is_some() {
                    self.end_episode(*person, ResidenceKind::Outflow, *date);
                }
                self.start_episode(*person, ResidenceKind::Registered, to.clone(), Some(*date));
                self.end_inflow_in_township(*person, to, *date);
                match household {
                    Some(h) => self.set_household(*person, Some(*h), relationship.clone().or(Some("其他亲属".into()))),
                    None if current.is_some() && !keep => self.set_household(*person, None, None),
                    None => {}
                }
            }
            Command::OutflowStart { person, date, area } => {
                let s = self.state("person", *person)?;
                self.check_date("date", s, *date)?;
                let reg = Self::one_open("person", s, ResidenceKind::Registered)?;
                let area = match area {
                    Some(a) if !reg.area.contains(a) && !a.contains(&reg.area) => {
                        return refuse("area", format!("流出地区 {a} 不是此人的户籍地 {} (outflow must be from the area of registration)", reg.area))
                    }
                    Some(a) => a.clone(),
                    None => reg.area.clone(),
                };
                Self::check_start("person", s, ResidenceKind::Outflow, *date)?;
                self.start_episode(*person, ResidenceKind::Outflow, area, Some(*date));
            }
            Command::FloatingEnd { person, kind, date, area } => {
                let s = self.state("person", *person)?;
                self.check_date("date", s, *date)?;
                let kind = match kind {
                    Some(k @ (ResidenceKind::Inflow | ResidenceKind::Outflow)) => *k,
                    Some(ResidenceKind::Registered) => return refuse("kind", "流动结束只适用于流入或流出 (floating end applies to inflow or outflow)"),
                    None => {
                        let i = !Self::open_of(s, ResidenceKind::Inflow).is_empty();
                        let o = !Self::open_of(s, ResidenceKind::Outflow).is_empty();
                        match (i, o) {
                            (true, false) => ResidenceKind::Inflow,
                            (false, true) => ResidenceKind::Outflow,
                            (false, false) => return refuse("person", format!("{}没有未结束的流入或流出记录 (no open floating episode)", s.name)),
                            (true, true) => return refuse("kind", "此人同时有流入和流出记录, 请注明 流入结束 或 流出结束 (say which)"),
                        }
                    }
                };
                let e = Self::one_open("person", s, kind)?;
                Self::check_area(area.as_ref(), e)?;
                Self::check_end("date", e, *date)?;
                self.end_episode(*person, kind, *date);
            }
            Command::HouseholdCreate { household_no, area, head } => {
                let no = household_no.trim();
                if no.is_empty() || no.chars().count() > 30 || no.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return refuse("household_no", "请填写户号 (不超过30个字符, 不含空格) (household number required)");
                }
                if self.taken_household_nos.contains(no) {
                    return refuse("household_no", format!("户号 {no} 已存在 (household number already exists)"));
                }
                if let Some(h) = head {
                    let s = self.state("head", *h)?;
                    self.alive("head", s)?;
                    let reg = Self::one_open("head", s, ResidenceKind::Registered)?;
                    if village_of(&reg.area) != village_of(area) {
                        return refuse("head", format!("{}的户籍在 {}, 不在 {area} 所在村 (head registered in another village)", s.name, reg.area));
                    }
                    if let Some(cur) = s.household.and_then(|c| self.households.get(&c)) {
                        if s.relationship.as_deref() == Some("户主") && cur.members.len() > 1 {
                            return refuse("head", format!("{}是户 {} 的户主: 请先变更户主 (the head must hand over first)", s.name, cur.household_no));
                        }
                    }
                }
                let i = self.batch.households.len();
                self.batch.households.push(NewHousehold { household_no: no.to_string(), area: area.clone() });
                self.taken_household_nos.insert(no.to_string());
                let hr = HouseholdRef::Batch(i);
                self.households.insert(hr, HouseholdState { household_no: no.to_string(), area: area.clone(), members: Vec::new() });
                if let Some(h) = head {
                    self.set_household(*h, Some(hr), Some("户主".into()));
                }
                out.household = Some(hr);
            }
            Command::HouseholdJoin { person, household, relationship } => {
                check_relationship("relationship", relationship)?;
                let s = self.state("person", *person)?;
                self.alive("person", s)?;
                let h = self.household_state("household", *household)?;
                if s.household == Some(*household) {
                    return refuse("household", format!("{}已在户 {} (already a member)", s.name, h.household_no));
                }
                let reg = Self::one_open("person", s, ResidenceKind::Registered)?;
                self.check_household_fits("household", h, &reg.area)?;
                if relationship == "户主" && h.members.iter().any(|m| self.persons.get(m).is_some_and(|x| x.relationship.as_deref() == Some("户主"))) {
                    return refuse("relationship", format!("户 {} 已有户主: 请用 变更户主 (the household has a head)", h.household_no));
                }
                if let Some(cur) = s.household.and_then(|c| self.households.get(&c)) {
                    if s.relationship.as_deref() == Some("户主") && cur.members.len() > 1 {
                        return refuse("person", format!("{}是户 {} 的户主: 请先变更户主 (the head must hand over first)", s.name, cur.household_no));
                    }
                }
                self.set_household(*person, Some(*household), Some(relationship.clone()));
            }
            Command::HouseholdLeave { person } => {
                let s = self.state("person", *person)?;
                let Some(cur) = s.household else {
                    return refuse("person", format!("{}不属于任何户 (not in a household)", s.name));
                };
                if let Some(h) = self.households.get(&cur) {
                    if s.relationship.as_deref() == Some("户主") && h.members.len() > 1 {
                        return refuse("person", format!("{}是户 {} 的户主: 请先变更户主 (the head must hand over first)", s.name, h.household_no));
                    }
                }
                self.set_household(*person, None, None);
            }
            Command::HouseholdChangeHead { household, head, former_head_relationship } => {
                check_relationship("former_head_relationship", former_head_relationship)?;
                if former_head_relationship == "户主" {
                    return refuse("former_head_relationship", "原户主的新关系不能是 户主 (the former head needs another relationship)");
                }
                let h = self.household_state("household", *household)?;
                let s = self.state("head", *head)?;
                self.alive("head", s)?;
                if s.household != Some(*household) {
                    return refuse("head", format!("{}不是户 {} 的成员 (not a member)", s.name, h.household_no));
                }
                if s.relationship.as_deref() == Some("户主") {
                    return refuse("head", format!("{}已是户主 (already the head)", s.name));
                }
                let former: Vec<PersonRef> =
                    h.members.iter().copied().filter(|m| self.persons.get(m).is_some_and(|x| x.relationship.as_deref() == Some("户主"))).collect();
                for f in former {
                    self.set_household(f, Some(*household), Some(former_head_relationship.clone()));
                }
                self.set_household(*head, Some(*household), Some("户主".into()));
            }
            Command::HouseholdSplit { from, household_no, members, head } => {
                let h = self.household_state("household", *from)?.clone();
                if members.is_empty() || !members.contains(head) {
                    return refuse("head", "新户主必须是分出的成员之一 (the head must be one of the members)");
                }
                for m in members {
                    let s = self.state("members", *m)?;
                    if s.household != Some(*from) {
                        return refuse("members", format!("{}不是户 {} 的成员 (not a member)", s.name, h.household_no));
                    }
                    if s.relationship.as_deref() == Some("户主") {
                        return refuse("members", format!("{}是原户的户主, 不能分出 (the head stays)", s.name));
                    }
                    self.alive("members", s)?;
                }
                let no = household_no.trim();
                if no.is_empty() || no.chars().count() > 30 || no.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return refuse("household_no", "请填写户号 (不超过30个字符, 不含空格) (household number required)");
                }
                if self.taken_household_nos.contains(no) {
                    return refuse("household_no", format!("户号 {no} 已存在 (household number already exists)"));
                }
                let i = self.batch.households.len();
                self.batch.households.push(NewHousehold { household_no: no.to_string(), area: h.area.clone() });
                self.taken_household_nos.insert(no.to_string());
                let hr = HouseholdRef::Batch(i);
                self.households.insert(hr, HouseholdState { household_no: no.to_string(), area: h.area.clone(), members: Vec::new() });
                for m in members {
                    let rel = if m == head { "户主".to_string() } else { self.persons[m].relationship.clone().unwrap_or_else(|| "其他亲属".into()) };
                    self.set_household(*m, Some(hr), Some(rel));
                }
                out.household = Some(hr);
            }
            Command::AssignGroup { target, group } => {
                if group.level() != AreaLevel::Group {
                    return refuse("group", format!("{group} 不是村民小组代码 (15位) (not a villager group)"));
                }
                let village = village_of(group);
                let persons: Vec<PersonRef> = match target {
                    GroupTarget::Person(p) => vec![*p],
                    GroupTarget::Household(h) => {
                        let hs = self.household_state("household", *h)?;
                        if village_of(&hs.area) != village {
                            return refuse("group", format!("户 {} 在 {}, 小组 {group} 在另一村 (group of another village)", hs.household_no, hs.area));
                        }
                        hs.members.clone()
                    }
                };
                let mut moves = Vec::new();
                for p in &persons {
                    let s = self.state("person", *p)?;
                    for e in &s.open {
                        if e.kind == ResidenceKind::Inflow && matches!(target, GroupTarget::Household(_)) {
                            continue;
                        }
                        if village_of(&e.area) != village {
                            if matches!(target, GroupTarget::Person(_)) && e.kind != ResidenceKind::Outflow {
                                return refuse(
                                    "group",
                                    format!(
                                        "{}的{}记录在 {}, 小组 {group} 在另一村: 请登记迁移 (another village: record a move)",
                                        s.name,
                                        e.kind.name_zh(),
                                        e.area
                                    ),
                                );
                            }
                            continue;
                        }
                        if e.area != *group {
                            moves.push((*p, e.kind, e.area.clone()));
                        }
                    }
                    if matches!(target, GroupTarget::Person(_)) && s.open.is_empty() {
                        return refuse("person", format!("{}没有未结束的户籍或流入记录 (no open episode)", s.name));
                    }
                }
                for (p, kind, from) in moves {
                    let s = self.persons.get_mut(&p).expect("checked");
                    let e = s.open.iter_mut().find(|e| e.kind == kind && e.area == from).expect("found above");
                    e.area = group.clone();
                    match e.batch {
                        Some(i) => self.batch.residences[i].area = group.clone(),
                        None => self.batch.regroupings.push(Regrouping { person: p, kind, from, to: group.clone() }),
                    }
                }
                if let GroupTarget::Household(h) = target {
                    self.households.get_mut(h).expect("checked").area = group.clone();
                    match h {
                        HouseholdRef::Batch(i) => self.batch.households[*i].area = group.clone(),
                        HouseholdRef::Stored(id) => self.batch.household_areas.push((*id, group.clone())),
                    }
                }
            }
            Command::Correction { fields, reason } => {
                let r = reason.trim();
                if r.is_empty() {
                    return refuse("reason", "请填写更正原因 (reason required)");
                }
                if r.chars().count() > 200 {
                    return refuse("reason", "更正原因不超过200字 (reason too long)");
                }
                let PersonRef::Stored(_) = fields.person else {
                    return refuse("person", "只能更正已在册的人员 (only stored persons are corrected)");
                };
                let s = self.state("person", fields.person)?;
                if fields.name.trim().is_empty() {
                    return refuse("name", "请填写姓名 (name is empty)");
                }
                let b = fields.birth_date;
                if b > self.today {
                    return refuse("birth_date", format!("出生日期 {b} 晚于今天 {} (birth date in the future)", self.today));
                }
                if let Some(d) = s.death.filter(|d| *d < b) {
                    return refuse("birth_date", format!("出生日期晚于死亡日期 {d} (born after death)"));
                }
                if let Some(c) = s.earliest_child_birth.filter(|c| *c <= b) {
                    return refuse("birth_date", format!("出生日期不能晚于子女的出生日期 {c} (born after a child)"));
                }
                if let Some(e) = s.earliest_episode_start.filter(|e| *e < b) {
                    return refuse("birth_date", format!("出生日期晚于最早的居住记录起始日 {e} (born after an episode began)"));
                }
                if let Some(c) = &fields.citizen_id {
                    if c.birth_date() != b {
                        return refuse("citizen_id", format!("身份号码中的出生日期 {} 与出生日期 {b} 不符 (ID and birth date disagree)", c.birth_date()));
                    }
                    if c.sex() != fields.sex {
                        return refuse(
                            "citizen_id",
                            format!("身份号码中的性别({})与所填性别({})不符 (ID and sex disagree)", c.sex().name_zh(), fields.sex.name_zh()),
                        );
                    }
                }
                let st = self.persons.get_mut(&fields.person).expect("checked");
                st.name = fields.name.clone();
                st.sex = fields.sex;
                st.birth_date = b;
                st.marital_status = fields.marital_status;
                self.batch.corrections.push((**fields).clone());
            }
        }
        Ok(out)
    }
}

fn set_last_end(v: &mut Vec<(ResidenceKind, NaiveDate)>, kind: ResidenceKind, date: NaiveDate) {
    match v.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, d)) => *d = (*d).max(date),
        None => v.push((kind, date)),
    }
}

fn new_state(p: &NewPerson, household: Option<HouseholdRef>) -> PersonState {
    PersonState {
        name: p.name.clone(),
        sex: p.sex,
        birth_date: p.birth_date,
        death: None,
        marital_status: p.marital_status,
        open: Vec::new(),
        last_end: Vec::new(),
        marriages: Vec::new(),
        last_marriage_end: None,
        household,
        relationship: p.relationship_to_head.clone(),
        children: 0,
        earliest_child_birth: None,
        earliest_episode_start: None,
    }
}

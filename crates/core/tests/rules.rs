//! Tests of the rule language (issue 4, part 1): parse and type errors with exact positions,
//! every operator, missing-value strategies, person predicates over hand-built facts, aggregate
//! identities, indicators against `Figures::compute`, and a TOML rules file.

use chrono::NaiveDate;
use renkou_core::citizen_id::CitizenId;
use renkou_core::register::{MaritalStatus, MarriageEnd, PolicyClass, ResidenceKind, Sex};
use renkou_core::rules::{
    parse_rules_toml, AggregateFacts, BirthFacts, Expr, Importance, Indicator, MarriageFacts, MissingValueStrategy, Number, Operator, Outcome, ParentRole,
    PersonFacts, RelativeFacts, ResidenceFacts, Rule, RuleBody, RuleDef, RuleError, Scalar, Scope, SkipReason, Type, BUILTIN_INDICATORS, MAX_COLLECTION_DEPTH,
};
use renkou_core::stats::{Figures, PeriodCounts};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn n(v: i64) -> Option<Scalar> {
    Some(Scalar::Number(Number::from(v)))
}

fn ratio(a: i128, b: i128) -> Option<Scalar> {
    Some(Scalar::Number(Number::new(a, b).unwrap()))
}

fn yes() -> Option<Scalar> {
    Some(Scalar::Bool(true))
}

fn no() -> Option<Scalar> {
    Some(Scalar::Bool(false))
}

fn perr(src: &str, scope: Scope) -> RuleError {
    match Expr::parse(src, scope) {
        Ok(e) => panic!("{src:?} should be refused, got {:?}", e.ty()),
        Err(e) => e,
    }
}

/// 王秀英: born 1985-03-10 in 西大吾乡, married 2006-10-01 to 李建国, two children (2008, 2012).
fn mother() -> PersonFacts {
    let mut p = PersonFacts::new(1, "王秀英", Sex::Female, d("1985-03-10"));
    // A valid GB 11643 number for 1985-03-10, sequence 002 (even: female).
    p.citizen_id = Some(CitizenId::from_parts("130131", d("1985-03-10"), 2).unwrap().as_str().into());
    p.marital_status = MaritalStatus::Married;
    p.area = Some("130131200201".into());
    p.household_no = Some("H0001".into());
    p.relationship_to_head = Some("配偶".into());
    p.residences.push(ResidenceFacts { area: "130131200201".into(), kind: ResidenceKind::Registered, start: None, end: None });
    p.marriages.push(MarriageFacts {
        start: Some(d("2006-10-01")),
        end: None,
        end_reason: None,
        spouse: RelativeFacts { id: Some(2), name: Some("李建国".into()), sex: Some(Sex::Male), birth_date: Some(d("1983-05-20")), ..Default::default() },
    });
    for (i, (name, sex, born, order)) in [("李明", Sex::Male, "2008-01-15", 1u8), ("李丽", Sex::Female, "2012-07-02", 2u8)].into_iter().enumerate() {
        p.births.push(BirthFacts {
            role: ParentRole::Mother,
            birth_order: Some(order),
            policy: Some(PolicyClass::Compliant),
            child_id: 10 + i as i64,
            citizen_id: None,
            name: name.into(),
            sex,
            birth_date: d(born),
            death_date: None,
        });
    }
    p.household_members.push(RelativeFacts { id: Some(2), name: Some("李建国".into()), relationship_to_head: Some("户主".into()), ..Default::default() });
    p
}

fn eval_p(src: &str, p: &PersonFacts, on: &str) -> Option<Scalar> {
    Expr::parse(src, Scope::Person).unwrap_or_else(|e| panic!("{src}: {e}")).eval_person(p, d(on)).unwrap()
}

fn eval_a(src: &str, a: &AggregateFacts) -> Option<Scalar> {
    Expr::parse(src, Scope::Aggregate).unwrap_or_else(|e| panic!("{src}: {e}")).eval_aggregate(a).unwrap()
}

fn seed_counts() -> PeriodCounts {
    PeriodCounts {
        population_start: 30223,
        population_end: 30317,
        births: 336,
        births_male: 167,
        births_female: 169,
        births_policy_compliant: 286,
        births_policy_noncompliant: 50,
        deaths: 178,
        women_of_childbearing_age: 7678,
        married_women_of_childbearing_age: 5824,
        floating_inflow: 503,
        floating_outflow: 1805,
    }
}

// ---------------------------------------------------------------- errors with line and column

#[test]
fn unknown_field_points_at_the_field_with_line_and_column() {
    let e = perr("sex == female\n and person.sexx == male", Scope::Person);
    assert_eq!((e.line, e.column), (2, 13));
    assert!(e.message.starts_with("未知字段 person.sexx (unknown field)"), "{}", e.message);
    assert!(e.message.contains("是否应为 `sex`?"), "{}", e.message);
    assert!(e.message.contains("可选: id, citizen_id, name, sex, birth_date"), "{}", e.message);
    assert_eq!(e.to_string().split(':').next(), Some("第2行第13列"));
    // A field of a collection record.
    let e = perr("count(children where birth_ordr >= 2) > 0", Scope::Person);
    assert_eq!((e.line, e.column), (1, 22));
    assert!(e.message.contains("未知名称 `birth_ordr`") && e.message.contains("是否应为 `birth_order`?"), "{}", e.message);
    let e = perr("any(marriages as m where m.begin < date(\"2000-01-01\"))", Scope::Person);
    assert_eq!(e.column, 28);
    assert!(e.message.starts_with("未知字段 m.begin") && e.message.contains("可选: start, end, end_reason, spouse"), "{}", e.message);
}

#[test]
fn columns_count_characters_not_bytes() {
    // "name == \"张三\" and " is 17 characters (the two Chinese characters are 6 bytes).
    let e = perr("name == \"张三\" and sexx == male", Scope::Person);
    assert_eq!((e.line, e.column), (1, 18));
    assert_eq!(e.offset, "name == \"张三\" and ".len());
}

#[test]
fn syntax_errors() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        ("age(person, ref_date) betwen 15 and 49", (1, 23), "多余的 `betwen`"),
        ("sex = female", (1, 5), "请用 `==`"),
        ("15 < age(person, ref_date) < 49", (1, 28), "比较不能连写"),
        ("age(person, ref_date) between 15 or 49", (1, 34), "缺少 and"),
        ("sex == female and\n\n  (age(person, ref_date) >= 15", (3, 31), "此处应为 `)`"),
        ("name == \"abc", (1, 9), "字符串没有结束引号"),
        ("sex == female and", (1, 18), "此处应为值"),
        ("count（children）", (1, 6), "全角括号"),
        ("sex == female && age(person, ref_date) > 15", (1, 15), "请用 and / or"),
        ("2abc > 1", (1, 1), "数字后不能紧跟字母"),
        ("", (1, 1), "表达式为空"),
        ("sex in female", (1, 8), "此处应为 `[`"),
    ];
    for (src, pos, msg) in cases {
        let e = perr(src, Scope::Person);
        assert_eq!((e.line, e.column), *pos, "{src:?}: {e}");
        assert!(e.message.contains(msg), "{src:?}: {e}");
    }
}

#[test]
fn type_errors() {
    let cases: &[(&str, Scope, (u32, u32), &str)] = &[
        ("sex == married", Scope::Person, (1, 8), "两边类型不一致: 性别 与 婚姻状况"),
        ("birth_date > 15", Scope::Person, (1, 14), "`>` 两边类型不一致: 日期 与 整数"),
        ("death_date == null", Scope::Person, (1, 15), "请用 is_null(x)"),
        ("death_date - birth_date > 0", Scope::Person, (1, 1), "日期相减请用 days_between"),
        ("age(person)", Scope::Person, (1, 1), "函数 age 需要 2 个参数, 实际 1 个"),
        ("if(sex == male, 22)", Scope::Person, (1, 1), "函数 if 需要 3 个参数"),
        ("agee(person, ref_date) > 15", Scope::Person, (1, 1), "未知函数 `agee`"),
        ("age(sex, ref_date) > 15", Scope::Person, (1, 5), "age 的第1个参数应为人员或出生日期"),
        ("children > 1", Scope::Person, (1, 1), "集合请用 count"),
        ("children.birth_order > 1", Scope::Person, (1, 10), "没有字段"),
        ("count(sex)", Scope::Person, (1, 7), "count 需要集合"),
        ("all(children)", Scope::Person, (1, 5), "all 需要条件"),
        ("age(person, ref_date) where sex == male", Scope::Person, (1, 23), "多余的 `where`"),
        ("is_null(children where sex == male)", Scope::Person, (1, 9), "只有 count/exists/any/all 可以"),
        ("count(children where birth_order) > 1", Scope::Person, (1, 22), "where 需要条件"),
        ("sex == female or 1", Scope::Person, (1, 18), "or 需要条件"),
        ("date(\"2014-02-30\") < ref_date", Scope::Person, (1, 6), "日期 \"2014-02-30\" 无效"),
        ("round(births, 12) > 0", Scope::Aggregate, (1, 15), "位数应为 0 到 9"),
        ("sex in [male, 1]", Scope::Person, (1, 15), "列表元素是整数"),
        ("birth == births_male + births_female", Scope::Aggregate, (1, 1), "未知指标 `birth`"),
        ("age(person, ref_date) > 15", Scope::Aggregate, (1, 1), "函数 age 只能用于人员规则"),
        ("person", Scope::Person, (1, 1), "表达式的结果应为单个值"),
        ("children", Scope::Person, (1, 1), "集合请用 count"),
    ];
    for (src, scope, pos, msg) in cases {
        let e = perr(src, *scope);
        assert_eq!((e.line, e.column), *pos, "{src:?}: {e}");
        assert!(e.message.contains(msg), "{src:?}: {e}");
    }
    // The aggregate error lists the statistics one may use.
    let e = perr("birth == births_male + births_female", Scope::Aggregate);
    assert!(e.message.contains("是否应为 `births`?") && e.message.contains("可选: population_start, population_end"), "{e}");
}

#[test]
fn collection_nesting_is_bounded() {
    assert_eq!(MAX_COLLECTION_DEPTH, 3);
    let three = "any(children where any(marriages where any(residences where kind == inflow)))";
    assert!(Expr::parse(three, Scope::Person).is_ok());
    let four = "any(children where any(marriages where any(residences where any(household_members where sex == male))))";
    let e = perr(four, Scope::Person);
    assert_eq!(e.column, 65);
    assert!(e.message.contains("集合嵌套超过 3 层"), "{e}");
    // Deeply nested parentheses are refused, not a stack overflow.
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    assert!(perr(&deep, Scope::Aggregate).message.contains("嵌套超过 64 层"));
}

#[test]
fn types_of_expressions() {
    let t = |s: &str, scope| Expr::parse(s, scope).unwrap().ty().clone();
    assert_eq!(t("births * 1000 / population_average", Scope::Aggregate), Type::Number);
    assert_eq!(t("births_male + births_female", Scope::Aggregate), Type::Int);
    assert_eq!(t("age(person, ref_date)", Scope::Person), Type::Int);
    assert_eq!(t("age(spouse, ref_date)", Scope::Person), Type::Int.optional());
    assert_eq!(t("spouse.birth_date", Scope::Person), Type::Date.optional());
    assert_eq!(t("death_date < birth_date", Scope::Person), Type::Bool.optional());
    assert_eq!(t("is_null(death_date)", Scope::Person), Type::Bool);
    assert_eq!(t("coalesce(death_date, ref_date)", Scope::Person), Type::Date);
    assert_eq!(t("count(children where birth_order >= 2)", Scope::Person), Type::Int);
}

// ---------------------------------------------------------------- operators and functions

#[test]
fn arithmetic_is_exact() {
    let a = AggregateFacts::from_counts(&seed_counts());
    assert_eq!(eval_a("births * 1000 / population_average", &a), ratio(336_000 * 2, 60540));
    assert_eq!(eval_a("1 + 2 * 3 - 4 / 8", &a), ratio(13, 2));
    assert_eq!(eval_a("(1 + 2) * 3", &a), n(9));
    assert_eq!(eval_a("-births + 1", &a), n(-335));
    assert_eq!(eval_a("0.1 + 0.2 == 0.3", &a), yes());
    assert_eq!(eval_a("population_average", &a), ratio(60540, 2));
    assert_eq!(eval_a("round(deaths * 1000 / population_average, 2)", &a), ratio(588, 100));
    assert_eq!(eval_a("abs(deaths - births)", &a), n(158));
    assert_eq!(eval_a("min(births, deaths, 200)", &a), n(178));
    assert_eq!(eval_a("max(births, deaths, 200)", &a), n(336));
    // Division by zero is undefined (null), not zero and not an error.
    assert_eq!(eval_a("births / 0", &a), None);
    assert_eq!(eval_a("is_null(births / (deaths - 178))", &a), yes());
    assert_eq!(eval_a("coalesce(births / 0, -1)", &a), n(-1));
    assert_eq!(eval_a("if(births > deaths, 1, 2)", &a), n(1));
    // Overflow is reported with its position.
    let e = Expr::parse("170141183460469231731687303715884105727 + births", Scope::Aggregate).unwrap();
    let err = e.eval_aggregate(&a).unwrap_err();
    assert!(err.message.contains("数值超出范围"), "{err}");
}

#[test]
fn comparisons_and_logic() {
    let a = AggregateFacts::from_counts(&seed_counts());
    for (src, want) in [
        ("births == 336", true),
        ("births != 336", false),
        ("deaths < births", true),
        ("deaths <= 178", true),
        ("deaths > 178", false),
        ("deaths >= 179", false),
        ("births between 300 and 336", true),
        ("births between 337 and 400", false),
        ("births not between 337 and 400", true),
        ("births in [1, 336, 2]", true),
        ("births not in [1, 2]", true),
        ("births == 336 and deaths == 1", false),
        ("births == 1 or deaths == 178", true),
        ("not births == 336", false),
        ("not (births == 1) and (deaths == 178 or false)", true),
        ("births == 1 or births == 2 or births == 336", true),
    ] {
        assert_eq!(eval_a(src, &a), Some(Scalar::Bool(want)), "{src}");
    }
    // Three-valued logic over a missing value.
    let p = PersonFacts::new(5, "张伟", Sex::Male, d("1990-01-01"));
    assert_eq!(eval_p("death_date < ref_date", &p, "2014-06-30"), None);
    assert_eq!(eval_p("death_date < ref_date and false", &p, "2014-06-30"), no());
    assert_eq!(eval_p("death_date < ref_date or true", &p, "2014-06-30"), yes());
    assert_eq!(eval_p("not (death_date < ref_date)", &p, "2014-06-30"), None);
    assert_eq!(eval_p("death_date in [date(\"2000-01-01\")]", &p, "2014-06-30"), None);
    assert_eq!(eval_p("min(death_date, birth_date)", &p, "2014-06-30"), Some(Scalar::Date(d("1990-01-01"))));
    // Text and enum equality, Chinese enum aliases.
    assert_eq!(eval_p("name == '张伟' and sex == 男 and sex in [male]", &p, "2014-06-30"), yes());
    assert_eq!(eval_p("marital_status == 未说明", &p, "2014-06-30"), yes());
}

// ---------------------------------------------------------------- person predicates

#[test]
fn person_predicates_over_hand_built_facts() {
    let m = mother();
    let on = "2014-06-30";
    assert_eq!(eval_p("person.sex == female and age(person, ref_date) between 15 and 49", &m, on), yes());
    assert_eq!(eval_p("age(person, ref_date)", &m, on), n(29));
    assert_eq!(eval_p("age(person, date(\"2035-03-09\")) between 15 and 49", &m, on), yes());
    assert_eq!(eval_p("age(person, date(\"2035-03-10\")) between 15 and 49", &m, on), no());
    assert_eq!(eval_p("count(children where birth_order >= 2)", &m, on), n(1));
    assert_eq!(eval_p("count(children)", &m, on), n(2));
    assert_eq!(eval_p("count(births where sex == female)", &m, on), n(1));
    assert_eq!(eval_p("exists(children where policy == noncompliant)", &m, on), no());
    assert_eq!(eval_p("all(children where policy == compliant)", &m, on), yes());
    assert_eq!(eval_p("any(children as c where c.birth_order == 2 and c.sex == female)", &m, on), yes());
    // The mother's age at each birth (completed years): 22 and 27.
    assert_eq!(eval_p("all(births as b where age(person, b.birth_date) between 14 and 55)", &m, on), yes());
    assert_eq!(eval_p("any(births where age(person, birth_date) < 23)", &m, on), yes());
    // Spouse on the reference date, and through the marriage record.
    assert_eq!(eval_p("spouse.name", &m, on), Some(Scalar::Text("李建国".into())));
    assert_eq!(eval_p("age(spouse, ref_date)", &m, on), n(31));
    assert_eq!(eval_p("is_null(spouse)", &m, "2006-09-30"), yes());
    assert_eq!(eval_p("exists(spouse)", &m, "2006-10-01"), yes());
    assert_eq!(eval_p("any(marriages as m where age(person, m.start) < 20)", &m, on), no());
    assert_eq!(eval_p("any(marriages where age(spouse, start) < 22)", &m, on), no());
    // Household: someone in it is the head.
    assert_eq!(eval_p("relationship_to_head == '户主' or exists(household_members where relationship_to_head == '户主')", &m, on), yes());
    // Residences and days.
    assert_eq!(eval_p("count(residences where kind == registered and is_null(end))", &m, on), n(1));
    assert_eq!(eval_p("days_between(birth_date, ref_date)", &m, on), n(10_704));
    // Two births to one mother less than 183 days apart, not twins (a self-join with aliases).
    let close = "any(births as a where any(births as b where b.id != a.id \
                 and abs(days_between(a.birth_date, b.birth_date)) between 1 and 182))";
    assert_eq!(eval_p(close, &m, on), no());
    let mut m2 = m.clone();
    m2.births[1].birth_date = d("2008-05-01");
    assert_eq!(eval_p(close, &m2, on), yes());
    // Citizen ID helpers (GB 11643): this number's check character is right.
    assert_eq!(eval_p("citizen_id_valid(citizen_id)", &m, on), yes());
    assert_eq!(eval_p("citizen_id_birth_date(citizen_id) == birth_date", &m, on), yes());
    assert_eq!(eval_p("citizen_id_sex(citizen_id) == sex", &m, on), yes());
    let mut bad = m.clone();
    let mut wrong = bad.citizen_id.clone().unwrap();
    let last = if wrong.ends_with('0') { '1' } else { '0' };
    wrong.pop();
    wrong.push(last);
    bad.citizen_id = Some(wrong);
    assert_eq!(eval_p("citizen_id_valid(citizen_id)", &bad, on), no());
    assert_eq!(eval_p("citizen_id_sex(citizen_id)", &bad, on), None);
}

fn person_rule(id: &str, pred: &str) -> Rule {
    Rule::compile(&RuleDef {
        id: id.into(),
        message_zh: "测试".into(),
        importance: Importance::Error,
        scope: Scope::Person,
        left: None,
        operator: None,
        right: None,
        violation_when: Some(pred.into()),
        missing_value_strategy: MissingValueStrategy::default(),
    })
    .unwrap_or_else(|e| panic!("{pred}: {e}"))
}

#[test]
fn person_rules_violation_when() {
    let on = d("2014-06-30");
    let death_before_birth = person_rule("P001", "death_date < birth_date");
    let mut p = mother();
    // Alive: the rule reads a missing value and is skipped (DHIS2 default strategy).
    assert_eq!(death_before_birth.evaluate_person(&p, on).unwrap(), Outcome::Skipped(SkipReason::MissingValues));
    p.death_date = Some(d("1980-01-01"));
    assert_eq!(death_before_birth.evaluate_person(&p, on).unwrap(), Outcome::Violation { left: yes(), right: None });
    p.death_date = Some(d("2014-01-01"));
    assert_eq!(death_before_birth.evaluate_person(&p, on).unwrap(), Outcome::Pass);

    // Married below the legal age (22 men, 20 women), over every marriage.
    let young = person_rule("P002", "any(marriages as m where age(person, m.start) < if(sex == male, 22, 20))");
    let mut p = mother();
    assert_eq!(young.evaluate_person(&p, on).unwrap(), Outcome::Pass);
    p.marriages[0].start = Some(d("2004-05-01")); // aged 19
    assert!(matches!(young.evaluate_person(&p, on).unwrap(), Outcome::Violation { .. }));

    // Aged 15+ with no marital status.
    let no_status = person_rule("P003", "age(person, ref_date) >= 15 and marital_status == unstated");
    let mut p = mother();
    assert_eq!(no_status.evaluate_person(&p, on).unwrap(), Outcome::Pass);
    p.marital_status = MaritalStatus::Unstated;
    assert!(matches!(no_status.evaluate_person(&p, on).unwrap(), Outcome::Violation { .. }));

    // Child born more than 300 days after the father's death (seen from the father).
    let posthumous = person_rule("P004", "exists(death_date) and any(children where role == father and days_between(person.death_date, birth_date) > 300)");
    let mut f = PersonFacts::new(2, "李建国", Sex::Male, d("1983-05-20"));
    f.births.push(BirthFacts { role: ParentRole::Father, ..mother().births[1].clone() });
    assert_eq!(posthumous.evaluate_person(&f, on).unwrap(), Outcome::Pass);
    f.death_date = Some(d("2011-06-01"));
    assert!(matches!(posthumous.evaluate_person(&f, on).unwrap(), Outcome::Violation { .. }));
    f.death_date = Some(d("2011-12-01"));
    assert_eq!(posthumous.evaluate_person(&f, on).unwrap(), Outcome::Pass);

    // A marriage that ended by divorce while the status still says married.
    let stale = person_rule("P005", "marital_status == married and not exists(marriages where is_null(end))");
    let mut p = mother();
    assert_eq!(stale.evaluate_person(&p, on).unwrap(), Outcome::Pass);
    p.marriages[0].end = Some(d("2013-01-01"));
    p.marriages[0].end_reason = Some(MarriageEnd::Divorce);
    assert!(matches!(stale.evaluate_person(&p, on).unwrap(), Outcome::Violation { .. }));

    // An aggregate rule cannot be run on a person, and the reverse.
    let agg = Rule::compile(&RuleDef { scope: Scope::Aggregate, violation_when: Some("births < 0".into()), ..def("A") }).unwrap();
    assert!(agg.evaluate_person(&mother(), on).is_err());
    assert!(death_before_birth.evaluate_aggregate(&AggregateFacts::default()).is_err());
}

#[test]
fn person_compare_rule_keeps_both_values() {
    // DHIS2 form on a person: the recorded birth date must equal the one in the ID number.
    let r = Rule::compile(&RuleDef {
        scope: Scope::Person,
        left: Some("birth_date".into()),
        operator: Some("==".into()),
        right: Some("citizen_id_birth_date(citizen_id)".into()),
        ..def("P010")
    })
    .unwrap();
    let on = d("2014-06-30");
    let mut p = mother();
    assert_eq!(r.evaluate_person(&p, on).unwrap(), Outcome::Pass);
    p.birth_date = d("1985-03-11");
    assert_eq!(
        r.evaluate_person(&p, on).unwrap(),
        Outcome::Violation { left: Some(Scalar::Date(d("1985-03-11"))), right: Some(Scalar::Date(d("1985-03-10"))) }
    );
    // No ID number: the right side is undefined, so the rule is not decided.
    p.citizen_id = None;
    assert!(matches!(r.evaluate_person(&p, on).unwrap(), Outcome::Skipped(_)));
}

// ---------------------------------------------------------------- aggregate rules, missing values

fn def(id: &str) -> RuleDef {
    RuleDef {
        id: id.into(),
        message_zh: "测试".into(),
        importance: Importance::Error,
        scope: Scope::Aggregate,
        left: None,
        operator: None,
        right: None,
        violation_when: None,
        missing_value_strategy: MissingValueStrategy::default(),
    }
}

fn compare(id: &str, left: &str, op: &str, right: &str, s: MissingValueStrategy) -> Rule {
    Rule::compile(&RuleDef { left: Some(left.into()), operator: Some(op.into()), right: Some(right.into()), missing_value_strategy: s, ..def(id) })
        .unwrap_or_else(|e| panic!("{left} {op} {right}: {e}"))
}

#[test]
fn aggregate_identities() {
    use MissingValueStrategy::*;
    let good = AggregateFacts::from_counts(&seed_counts());
    let identities = [
        compare("A1", "births_male + births_female", "==", "births", SkipIfAnyValueMissing),
        compare("A2", "births_policy_compliant + births_policy_noncompliant + births_policy_unknown", "==", "births", SkipIfAnyValueMissing),
        compare("A3", "floating_inflow + floating_outflow", "==", "floating_total", SkipIfAnyValueMissing),
        compare("A4", "married_women_of_childbearing_age", "<=", "women_of_childbearing_age", SkipIfAnyValueMissing),
        compare("A5", "population_average", "==", "(population_start + population_end) / 2", SkipIfAnyValueMissing),
        compare("A6", "crude_death_rate", "==", "deaths * 1000 / population_average", SkipIfAnyValueMissing),
    ];
    for r in &identities {
        assert_eq!(r.evaluate_aggregate(&good).unwrap(), Outcome::Pass, "{}", r.id);
    }
    // A report with one boy too few: the violation carries both sides.
    let mut typed = good.clone();
    typed.values.insert("births_male".into(), Number::from(166));
    assert_eq!(identities[0].evaluate_aggregate(&typed).unwrap(), Outcome::Violation { left: n(335), right: n(336) });
    // A printed rate checked against the counts, at the printed precision (5.88 ‰).
    let printed = compare("A7", "crude_death_rate", "==", "round(deaths * 1000 / population_average, 2)", SkipIfAnyValueMissing);
    let mut report = AggregateFacts::from_values([
        ("population_average", Number::from(30270)),
        ("deaths", Number::from(178)),
        ("crude_death_rate", Number::new(588, 100).unwrap()),
    ]);
    assert_eq!(printed.evaluate_aggregate(&report).unwrap(), Outcome::Pass);
    report.values.insert("population_average".into(), Number::from(30317));
    assert_eq!(printed.evaluate_aggregate(&report).unwrap(), Outcome::Violation { left: ratio(588, 100), right: ratio(587, 100) });
}

#[test]
fn missing_value_strategies() {
    use MissingValueStrategy::*;
    // Only boys were typed in; girls and the total are missing.
    let partial = AggregateFacts::from_values([("births_male", Number::from(167))]);
    let none = AggregateFacts::default();
    let full = AggregateFacts::from_values([("births_male", Number::from(167)), ("births_female", Number::from(169)), ("births", Number::from(336))]);
    let rule = |s| compare("M", "births_male + births_female", "==", "births", s);

    // SKIP_IF_ANY_VALUE_MISSING: any missing item skips.
    assert_eq!(rule(SkipIfAnyValueMissing).evaluate_aggregate(&partial).unwrap(), Outcome::Skipped(SkipReason::MissingValues));
    assert_eq!(rule(SkipIfAnyValueMissing).evaluate_aggregate(&full).unwrap(), Outcome::Pass);
    // SKIP_IF_ALL_VALUES_MISSING: the right side (births) is all missing, so skip ...
    assert_eq!(rule(SkipIfAllValuesMissing).evaluate_aggregate(&partial).unwrap(), Outcome::Skipped(SkipReason::MissingValues));
    // ... but with the total present, the missing girls count as 0: 167 + 0 ≠ 336.
    let mut p2 = partial.clone();
    p2.values.insert("births".into(), Number::from(336));
    assert_eq!(rule(SkipIfAllValuesMissing).evaluate_aggregate(&p2).unwrap(), Outcome::Violation { left: n(167), right: n(336) });
    assert_eq!(rule(SkipIfAnyValueMissing).evaluate_aggregate(&p2).unwrap(), Outcome::Skipped(SkipReason::MissingValues));
    // NEVER_SKIP: missing = 0, even when everything is missing (0 == 0 passes).
    assert_eq!(rule(NeverSkip).evaluate_aggregate(&partial).unwrap(), Outcome::Violation { left: n(167), right: n(0) });
    assert_eq!(rule(NeverSkip).evaluate_aggregate(&none).unwrap(), Outcome::Pass);
    assert_eq!(rule(SkipIfAllValuesMissing).evaluate_aggregate(&none).unwrap(), Outcome::Skipped(SkipReason::MissingValues));

    // is_null / coalesce handle missing values themselves and are not counted as items.
    let guarded = compare("G", "coalesce(births_female, 0) + births_male", "<=", "1000", SkipIfAnyValueMissing);
    assert_eq!(guarded.evaluate_aggregate(&partial).unwrap(), Outcome::Pass);

    // Pair operators (DHIS2 semantics, strategy ignored).
    let pair = |op| compare("P", "births_female", op, "births_male", SkipIfAnyValueMissing);
    assert!(matches!(pair("compulsory_pair").evaluate_aggregate(&partial).unwrap(), Outcome::Violation { left: None, right: Some(_) }));
    assert_eq!(pair("compulsory_pair").evaluate_aggregate(&full).unwrap(), Outcome::Pass);
    assert_eq!(pair("compulsory_pair").evaluate_aggregate(&none).unwrap(), Outcome::Pass);
    assert_eq!(pair("exclusive_pair").evaluate_aggregate(&partial).unwrap(), Outcome::Pass);
    assert!(matches!(pair("exclusive_pair").evaluate_aggregate(&full).unwrap(), Outcome::Violation { .. }));
    assert_eq!(pair("exclusive_pair").evaluate_aggregate(&none).unwrap(), Outcome::Pass);

    // A division by zero leaves the value undefined: skipped, never a false violation.
    let rate = compare("R", "births * 1000 / population_average", "<", "100", NeverSkip);
    assert_eq!(rate.evaluate_aggregate(&AggregateFacts::from_counts(&PeriodCounts::default())).unwrap(), Outcome::Skipped(SkipReason::Undefined));
}

#[test]
fn every_rule_operator() {
    use MissingValueStrategy::*;
    let a = AggregateFacts::from_counts(&seed_counts());
    for (op, want_pass) in [("==", false), ("!=", true), ("<", false), ("<=", false), (">", true), (">=", true)] {
        let r = compare("O", "births", op, "deaths", SkipIfAnyValueMissing);
        let RuleBody::Compare { operator, .. } = &r.body else { panic!() };
        assert_eq!(Some(*operator), Operator::parse(op));
        let out = r.evaluate_aggregate(&a).unwrap();
        if want_pass {
            assert_eq!(out, Outcome::Pass, "{op}");
        } else {
            assert_eq!(out, Outcome::Violation { left: n(336), right: n(178) }, "{op}");
        }
    }
    assert_eq!(Operator::parse("less_than_or_equal_to"), Some(Operator::Le));
    // Sides that cannot be compared are refused when the rule is saved.
    let e =
        Rule::compile(&RuleDef { scope: Scope::Person, left: Some("birth_date".into()), operator: Some("<".into()), right: Some("sex".into()), ..def("X") })
            .unwrap_err();
    assert_eq!((e.rule_id.as_deref(), e.field.as_deref()), (Some("X"), Some("right")));
    assert!(e.message.contains("左边是日期, 右边是性别"), "{e}");
    let e = Rule::compile(&RuleDef { left: Some("births".into()), operator: Some("=>".into()), right: Some("1".into()), ..def("Y") }).unwrap_err();
    assert!(e.message.contains("未知运算符 `=>`"), "{e}");
    let e = Rule::compile(&RuleDef { violation_when: Some("births + 1".into()), ..def("Z") }).unwrap_err();
    assert!(e.message.contains("表达式应为布尔, 实际是整数"), "{e}");
}

// ---------------------------------------------------------------- indicators

#[test]
fn builtin_indicators_match_figures_compute() {
    let counts = seed_counts();
    let facts = AggregateFacts::from_counts(&counts);
    let figures = Figures::compute(&counts);
    let mut got = Vec::new();
    for b in BUILTIN_INDICATORS {
        let ind = Indicator::compile(&b.def()).unwrap_or_else(|e| panic!("{}: {e}", b.key));
        let def = renkou_core::stats::definition(b.key).expect("a DESIGN.md definition");
        assert_eq!(ind.precision, def.precision, "{}", b.key);
        let fig = figures.get(b.key).unwrap();
        // The exact value, not only the rounded one, is the same.
        assert_eq!(ind.value(&facts).unwrap(), fig.ratio.and_then(Number::from_ratio), "{}", b.key);
        assert_eq!(ind.rounded(&facts).unwrap(), fig.rounded, "{}", b.key);
        got.push(ind.rounded(&facts).unwrap().unwrap());
    }
    assert_eq!(got, ["11.1", "5.88", "5.22", "98.8", "85.12"]);
    // Undefined over nothing, like Figures.
    let empty = AggregateFacts::from_counts(&PeriodCounts::default());
    let cbr = Indicator::compile(&BUILTIN_INDICATORS[0].def()).unwrap();
    assert_eq!(cbr.value(&empty).unwrap(), None);
    // A user indicator: floating share of the registered population, per cent.
    let user = Indicator::compile(&renkou_core::rules::IndicatorDef {
        key: "floating_share".into(),
        name_zh: "流动人口占比".into(),
        numerator: "floating_inflow + floating_outflow".into(),
        denominator: Some("population_end".into()),
        factor: 100,
        precision: 2,
    })
    .unwrap();
    assert_eq!(user.rounded(&facts).unwrap().as_deref(), Some("7.61")); // 2308 / 30317 = 7.6128…%
    let bad = Indicator::compile(&renkou_core::rules::IndicatorDef {
        key: "bad".into(),
        name_zh: "坏".into(),
        numerator: "births".into(),
        denominator: Some("population_avg".into()),
        factor: 1000,
        precision: 1,
    })
    .unwrap_err();
    assert_eq!((bad.field.as_deref(), bad.column), (Some("denominator"), 1));
    assert!(bad.message.contains("是否应为 `population_average`?"), "{bad}");
}

// ---------------------------------------------------------------- TOML files

const RULES_TOML: &str = r#"# 用户规则
[[rule]]
id = "U001"
message_zh = "育龄妇女登记为未说明婚姻状况"
importance = "warning"
scope = "person"
violation_when = "sex == female and age(person, ref_date) between 15 and 49 and marital_status == unstated"

[[rule]]
id = "U002"
message_zh = "二孩及以上孩次记录缺少政策属性"
importance = "error"
scope = "person"
violation_when = """
count(children where birth_order >= 2
      and is_null(polcy)) > 0"""

[[rule]]
id = "U003"
message_zh = "男孩与女孩之和不等于出生人数"
scope = "aggregate"
left = "births_male + births_female"
operator = "=="
right = "births"
missing_value_strategy = "never_skip"

[[indicator]]
key = "crude_birth_rate"
name_zh = "人口出生率"
numerator = "births"
denominator = "population_average"
factor = 1000
precision = 1
"#;

#[test]
fn toml_file_with_a_good_and_a_bad_rule() {
    let errors = parse_rules_toml(RULES_TOML).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    // `polcy` is on line 16 of the file, column 19 (inside the multi-line string).
    assert_eq!((e.line, e.column), (16, 19), "{e}");
    assert_eq!(e.rule_id.as_deref(), Some("U002"));
    assert_eq!(e.field.as_deref(), Some("violation_when"));
    assert!(e.message.contains("未知名称 `polcy`") && e.message.contains("是否应为 `policy`?"), "{e}");
    assert!(e.to_string().starts_with("第16行第19列: "));

    // Fixed, the whole file loads.
    let fixed = RULES_TOML.replace("polcy", "policy");
    let set = parse_rules_toml(&fixed).unwrap();
    assert_eq!(set.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["U001", "U002", "U003"]);
    assert_eq!(set.rules[0].importance, Importance::Warning);
    assert_eq!(set.rules[2].missing_value_strategy, MissingValueStrategy::NeverSkip);
    for r in &set.rules {
        assert_eq!(&Rule::compile(&r.to_def()).unwrap(), r, "{} round-trips", r.id);
    }
    assert_eq!(set.indicators[0].rounded(&AggregateFacts::from_counts(&seed_counts())).unwrap().as_deref(), Some("11.1"));
    let mut p = mother();
    p.marital_status = MaritalStatus::Unstated;
    assert!(matches!(set.rules[0].evaluate_person(&p, d("2014-06-30")).unwrap(), Outcome::Violation { .. }));
    assert_eq!(set.rules[1].evaluate_person(&p, d("2014-06-30")).unwrap(), Outcome::Pass);
}

#[test]
fn toml_positions_inside_strings_with_escapes_and_other_errors() {
    // A basic string with an escaped quote before the error: the column still lands on `sexx`.
    let text = "[[rule]]\nid = \"E1\"\nmessage_zh = \"x\"\nviolation_when = \"name == \\\"张三\\\" and sexx == male\"\n";
    let e = &parse_rules_toml(text).unwrap_err()[0];
    // Line 4: `violation_when = "name == \"张三\" and sexx` – `sexx` starts at character 38.
    assert_eq!((e.line, e.column), (4, 38), "{e}");
    // A literal string maps one to one.
    let text = "[[rule]]\nid = 'E2'\nmessage_zh = 'x'\nviolation_when = 'sex == marrid'\n";
    let e = &parse_rules_toml(text).unwrap_err()[0];
    assert_eq!((e.line, e.column), (4, 26), "{e}");
    // Unknown keys, bad enum values, TOML syntax: also located.
    let e = &parse_rules_toml("[[rule]]\nid = 'E3'\nmessage = 'x'\n").unwrap_err()[0];
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("TOML"), "{e}");
    let e = &parse_rules_toml("[[rule]]\nid = 'E4'\nmessage_zh = 'x'\nimportance = 'fatal'\nviolation_when = 'true'\n").unwrap_err()[0];
    assert_eq!((e.line, e.column), (4, 14), "{e}");
    assert!(e.message.contains("未知重要性 `fatal`"), "{e}");
    let e = &parse_rules_toml("[[rule]]\nid = 'E5'\nmessage_zh = 'x'\n").unwrap_err()[0];
    assert_eq!((e.line, e.column), (2, 6), "{e}");
    assert!(e.message.contains("violation_when"), "{e}");
    let e = &parse_rules_toml("[[rule]\nid = 1").unwrap_err()[0];
    assert_eq!(e.line, 1, "{e}");
    // Duplicate ids are refused.
    let dup = "[[rule]]\nid='D'\nmessage_zh='x'\nviolation_when='true'\n[[rule]]\nid='D'\nmessage_zh='x'\nviolation_when='true'\n";
    let e = &parse_rules_toml(dup).unwrap_err()[0];
    assert_eq!((e.line, e.message.contains("重复")), (6, true), "{e}");
}

// ---------------------------------------------------------------- robustness

mod robustness {
    use super::*;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "sex",
        "female",
        "age",
        "(",
        ")",
        "person",
        ",",
        "ref_date",
        "and",
        "or",
        "not",
        "between",
        "in",
        "[",
        "]",
        "count",
        "children",
        "where",
        "birth_order",
        ">=",
        "==",
        "<",
        "+",
        "-",
        "*",
        "/",
        "2",
        "0",
        "1.5",
        "\"张\"",
        "spouse",
        ".",
        "birth_date",
        "is_null",
        "death_date",
        "as",
        "c",
        "c.sex",
        "null",
        "true",
        "date(\"2014-06-30\")",
        "if",
        "coalesce",
        "exists",
        "any",
        "all",
        "marriages",
        "start",
        "days_between",
        "（",
        "#",
        "\n",
    ];

    proptest! {
        #[test]
        fn parsing_and_evaluating_never_panics(words in proptest::collection::vec(0..WORDS.len(), 0..24)) {
            let src: String = words.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ");
            match Expr::parse(&src, Scope::Person) {
                Ok(e) => {
                    let _ = e.eval_person(&mother(), d("2014-06-30"));
                }
                Err(err) => {
                    prop_assert!(err.line >= 1 && err.column >= 1);
                    prop_assert!(err.offset <= src.len());
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(src in "\\PC{0,40}") {
            let _ = Expr::parse(&src, Scope::Aggregate);
            let _ = parse_rules_toml(&src);
        }
    }
}

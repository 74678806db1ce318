//! The synthetic dataset, drawn batch by batch from a seeded ChaCha8 generator.
//!
//! Every (post, year) pair draws from a stream of its own, so that the same arguments give
//! the same rows, ids included, and a post's year does not change when others are added.
//! Ids are UUID v7 whose timestamp is the record's creation time and whose random bits come
//! from the stream: the data is time-ordered like real data.

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use relais_domain::reference::{
    ClosingReason, CodeList, ConsentForm, Convention, DeclineReason, HandOffStatus,
    InterventionKind, InterventionMode, KnownToSocialServices, Origin, PartnerKind, PostKind,
    ProblemCategory, ReferringService, Role, Sex, SharedData, SituationStatus, Standing, UnitKind,
};
use relais_persistence::bulk::{
    Batch, BeneficiaryRow, ConsentRow, HandOffRow, InterventionRow, PartnerRow, PostRow,
    PostUnitRow, SituationProblemRow, SituationRow, TransitionRow, UnitRow,
};

use super::places::{
    CANCEL_COMMENTS, DEPARTMENTS, FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES, MESSAGES,
    OUTCOMES, PARTNER_KINDS,
};

/// Share of persons who come back with a second situation within the period.
const SECOND_SITUATION: f64 = 0.10;
/// Share of situations handed to a partner.
const HANDED_OFF: f64 = 0.35;
/// Share of situations whose principal problem is conjugal or intra-family violence.
const VIOLENCE: f64 = 0.65;
/// Share of minors among the persons received.
const MINORS: f64 = 0.125;
/// Interventions follow the opening by at most this many days.
const FOLLOW_UP_DAYS: i64 = 60;
/// Communes of residence drawn per post.
const COMMUNES_PER_POST: usize = 20;

/// The days and sizes the dataset covers.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    /// First day a situation may open.
    pub first_day: NaiveDate,
    /// Last day a situation may open (at the latest, the day before `today`).
    pub last_day: NaiveDate,
    /// Nothing happens on or after this day.
    pub today: NaiveDate,
}

/// One post's persons for one month (the days of it the period covers). The work goes month
/// by month across all posts, so that each batch holds ids of a few weeks: they land side by
/// side in the indexes instead of all over them.
#[derive(Debug, Clone, Copy)]
struct Work {
    post: usize,
    /// `year * 12 + month - 1`: names the month's random stream.
    month: i32,
    persons: u32,
    from: NaiveDate,
    to: NaiveDate,
}

struct PostInfo {
    id: String,
    kind: PostKind,
    department: usize,
    communes: Vec<String>,
    workers: [String; 2],
}

struct PartnerInfo {
    id: String,
    subject: String,
    themes: &'static [ProblemCategory],
    kind: PartnerKind,
}

/// How a hand-off ended up, for the situation's own status.
struct HandOffLife {
    status: HandOffStatus,
    sent_at: Option<NaiveDateTime>,
    last_at: NaiveDateTime,
}

/// Draws the dataset; iterate it for batches: the directory first, then the persons.
pub struct Generator {
    seed: u64,
    period: Period,
    batch_situations: usize,
    posts: Vec<PostInfo>,
    /// The directory of each department in use, by index in `DEPARTMENTS`.
    partners: Vec<Vec<PartnerInfo>>,
    directory: Option<Batch>,
    work: Vec<Work>,
    next: usize,
}

fn stream(post: usize, year: i32, purpose: u64) -> u64 {
    let post = u64::try_from(post).unwrap_or(u64::MAX >> 21) + 1;
    let year = u64::try_from(year).unwrap_or(0) & 0x3_ffff;
    (post << 20) | (year << 2) | purpose
}

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// One item of a non-empty weighted list.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    let mut chosen = items[0].0;
    for &(item, weight) in items {
        chosen = item;
        if roll < weight {
            break;
        }
        roll -= weight;
    }
    chosen
}

/// One item of a non-empty list, uniformly.
fn one<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// A moment of `day` between the two hours, to the millisecond.
fn at(rng: &mut ChaCha8Rng, day: NaiveDate, from_hour: u32, to_hour: u32) -> NaiveDateTime {
    let seconds = rng.random_range(from_hour * 3600..to_hour * 3600);
    let millis = rng.random_range(0..1000);
    day.and_time(NaiveTime::MIN)
        + TimeDelta::seconds(i64::from(seconds))
        + TimeDelta::milliseconds(millis)
}

/// A UUID v7 stamped with `at`, its random bits from the stream.
fn uuid(rng: &mut ChaCha8Rng, at: NaiveDateTime) -> String {
    let millis = u64::try_from(at.and_utc().timestamp_millis()).unwrap_or(0);
    let mut bytes = [0_u8; 10];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
        .into_uuid()
        .to_string()
}

/// A list stored comma-wrapped, as persistence stores it.
fn join<'a>(codes: impl IntoIterator<Item = &'a str>) -> String {
    let inner: Vec<&str> = codes.into_iter().collect();
    if inner.is_empty() {
        String::new()
    } else {
        format!(",{},", inner.join(","))
    }
}

fn phone(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    format!(
        "{prefix} {:02} {:02} {:02} {:02}",
        rng.random_range(0..100),
        rng.random_range(0..100),
        rng.random_range(0..100),
        rng.random_range(0..100)
    )
}

/// A day in `from..=to`, weekends half as likely as weekdays.
fn opening_day(rng: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0);
    let mut day = from;
    for _ in 0..8 {
        day = from + days(rng.random_range(0..=span));
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        if !weekend || rng.random_bool(0.5) {
            break;
        }
    }
    day
}

impl Generator {
    /// A generator for `posts` posts over `period`, writing batches of about
    /// `batch_situations` situations.
    pub fn new(seed: u64, posts: usize, period: Period, batch_situations: usize) -> Self {
        let mut generator = Generator {
            seed,
            period,
            batch_situations: batch_situations.max(1),
            posts: Vec::with_capacity(posts),
            partners: Vec::new(),
            directory: None,
            work: Vec::new(),
            next: 0,
        };
        generator.directory = Some(generator.draw_directory(posts));
        generator.work = generator.plan_work();
        generator
    }

    /// How many persons the whole dataset holds (the progress bar's length).
    pub fn persons(&self) -> u64 {
        self.work.iter().map(|w| u64::from(w.persons)).sum()
    }

    fn draw_directory(&mut self, posts: usize) -> Batch {
        let mut rng = rng_for(self.seed, 0);
        let mut batch = Batch::default();
        let set_up = self.period.first_day - days(90);
        for index in 0..posts {
            let department = index % DEPARTMENTS.len();
            let (code, town) = DEPARTMENTS[department];
            let round = index / DEPARTMENTS.len();
            let set_up_day = set_up + days(rng.random_range(0..60));
            let created_at = at(&mut rng, set_up_day, 9, 18);
            let id = uuid(&mut rng, created_at);
            let kind = pick(
                &mut rng,
                &[
                    (PostKind::Police, 45),
                    (PostKind::Gendarmerie, 40),
                    (PostKind::Mixed, 15),
                ],
            );
            let employer = match rng.random_range(0..4) {
                0 => format!("Conseil départemental ({code})"),
                1 => format!("Commune de {town}"),
                2 => format!("France Victimes {code}"),
                _ => format!("Association Le Relais {code}"),
            };
            let convention = pick(
                &mut rng,
                &[
                    (Convention::Tripartite, 40),
                    (Convention::State, 15),
                    (Convention::Department, 20),
                    (Convention::Commune, 12),
                    (Convention::Intercommunality, 10),
                    (Convention::Other, 3),
                ],
            );
            let name = if round == 0 {
                format!("ISCG {town}")
            } else {
                format!("ISCG {town} {}", round + 1)
            };
            batch.posts.push(PostRow {
                id: id.clone(),
                name,
                kind: kind.code().to_owned(),
                department_code: code.to_owned(),
                employer,
                convention: convention.code().to_owned(),
                created_at,
                updated_at: created_at,
                version: 1,
            });
            let unit_kinds: &[(UnitKind, &str)] = match kind {
                PostKind::Police => &[(UnitKind::Commissariat, "Commissariat de")],
                PostKind::Gendarmerie => &[
                    (UnitKind::GendarmerieCompany, "Compagnie de gendarmerie de"),
                    (UnitKind::GendarmerieBrigade, "Brigade de gendarmerie de"),
                ],
                PostKind::Mixed => &[
                    (UnitKind::Commissariat, "Commissariat de"),
                    (UnitKind::GendarmerieBrigade, "Brigade de gendarmerie de"),
                ],
            };
            // Police posts work with one commissariat; the others with two units.
            for (unit_kind, label) in unit_kinds {
                let unit_at = created_at + minutes(rng.random_range(1..120));
                let unit_id = uuid(&mut rng, unit_at);
                let suffix = if round == 0 {
                    String::new()
                } else {
                    format!(" ({})", round + 1)
                };
                batch.units.push(UnitRow {
                    id: unit_id.clone(),
                    name: format!("{label} {town}{suffix}"),
                    kind: unit_kind.code().to_owned(),
                    department_code: code.to_owned(),
                    created_at: unit_at,
                    updated_at: unit_at,
                    version: 1,
                });
                batch.post_units.push(PostUnitRow {
                    post_id: id.clone(),
                    unit_id,
                });
            }
            let mut communes = Vec::with_capacity(COMMUNES_PER_POST);
            while communes.len() < COMMUNES_PER_POST {
                let commune = if code.len() == 3 {
                    format!("{code}{:02}", rng.random_range(1..=40))
                } else {
                    format!("{code}{:03}", rng.random_range(1..=700))
                };
                if !communes.contains(&commune) {
                    communes.push(commune);
                }
            }
            let number = index + 1;
            self.posts.push(PostInfo {
                id,
                kind,
                department,
                communes,
                workers: [format!("iscg.{number:04}.1"), format!("iscg.{number:04}.2")],
            });
        }
        for department in 0..posts.min(DEPARTMENTS.len()) {
            let directory = self.draw_partners(&mut rng, &mut batch, department, set_up);
            self.partners.push(directory);
        }
        batch
    }

    fn draw_partners(
        &self,
        rng: &mut ChaCha8Rng,
        batch: &mut Batch,
        department: usize,
        set_up: NaiveDate,
    ) -> Vec<PartnerInfo> {
        let (code, town) = DEPARTMENTS[department];
        let area = match code {
            "2A" | "2B" => "04 95".to_owned(),
            "75" | "92" | "93" | "94" | "91" | "78" | "95" | "77" => "01 4".to_owned(),
            _ if code.len() == 3 => "05 90".to_owned(),
            _ => format!("0{}", rng.random_range(2..=5)),
        };
        let mut directory = Vec::with_capacity(PARTNER_KINDS.len());
        for &(kind, pattern, themes) in PARTNER_KINDS {
            let set_up_day = set_up + days(rng.random_range(0..60));
            let created_at = at(rng, set_up_day, 9, 18);
            let id = uuid(rng, created_at);
            let slug = kind.code().replace('_', "-");
            let siret: String = (0..14)
                .map(|i| {
                    let digit = if i == 0 {
                        rng.random_range(1..10)
                    } else {
                        rng.random_range(0..10)
                    };
                    char::from(b'0' + digit)
                })
                .collect();
            batch.partners.push(PartnerRow {
                id: id.clone(),
                name: pattern.replace("{town}", town).replace("{dept}", code),
                kind: kind.code().to_owned(),
                siret: Some(siret),
                department_codes: join([code]),
                commune_codes: String::new(),
                themes: join(themes.iter().map(|t| t.code())),
                email: Some(format!(
                    "{slug}.{}@partenaires.exemple.fr",
                    code.to_lowercase()
                )),
                phone: Some(phone(rng, &area)),
                address: Some(format!(
                    "{} rue de la République, {town}",
                    rng.random_range(1..120)
                )),
                created_at,
                updated_at: created_at,
                version: 1,
            });
            directory.push(PartnerInfo {
                id,
                subject: format!("si.{slug}.{}", code.to_lowercase()),
                themes,
                kind,
            });
        }
        directory
    }

    /// Persons per post and year: 300–700 a year, a post's own rate varying by ±10 % from
    /// year to year, prorated for a year the period covers in part, then spread over the
    /// months by their days.
    fn plan_work(&self) -> Vec<Work> {
        let Period {
            first_day,
            last_day,
            ..
        } = self.period;
        let mut work = Vec::new();
        for year in first_day.year()..=last_day.year() {
            let months: Vec<(NaiveDate, NaiveDate)> = (1..=12)
                .filter_map(|month| {
                    let start = NaiveDate::from_ymd_opt(year, month, 1)?;
                    let end = start.checked_add_months(Months::new(1))? - days(1);
                    let (from, to) = (start.max(first_day), end.min(last_day));
                    (from <= to).then_some((from, to))
                })
                .collect();
            let (Some(jan_1), Some(dec_31)) = (
                NaiveDate::from_ymd_opt(year, 1, 1),
                NaiveDate::from_ymd_opt(year, 12, 31),
            ) else {
                continue;
            };
            let month_days: Vec<u64> = months
                .iter()
                .map(|(from, to)| u64::try_from((*to - *from).num_days() + 1).unwrap_or(0))
                .collect();
            let covered_days: u64 = month_days.iter().sum();
            let covered = covered_days as f64 / ((dec_31 - jan_1).num_days() + 1) as f64;
            let split: Vec<Vec<u32>> = (0..self.posts.len())
                .map(|post| {
                    let mut rate_rng = rng_for(self.seed, stream(post, 0, 1));
                    let rate = f64::from(rate_rng.random_range(300_u32..=700));
                    let mut rng = rng_for(self.seed, stream(post, year, 2));
                    let yearly = (rate * rng.random_range(0.9..1.1)).clamp(300.0, 700.0);
                    spread((yearly * covered).round() as u32, &month_days)
                })
                .collect();
            for (index, &(from, to)) in months.iter().enumerate() {
                let month = year * 12 + i32::try_from(from.month0()).unwrap_or(0);
                for (post, persons) in split.iter().enumerate() {
                    work.push(Work {
                        post,
                        month,
                        persons: persons[index],
                        from,
                        to,
                    });
                }
            }
        }
        work
    }

    fn draw_work(&self, batch: &mut Batch, work: Work) {
        let mut rng = rng_for(self.seed, stream(work.post, work.month, 3));
        for _ in 0..work.persons {
            self.draw_person(&mut rng, batch, &work);
        }
    }

    fn draw_person(&self, rng: &mut ChaCha8Rng, batch: &mut Batch, work: &Work) {
        let post = &self.posts[work.post];
        let opened_on = opening_day(rng, work.from, work.to);
        let minor = rng.random_bool(MINORS);
        let age: u32 = if minor {
            let (from, to) = pick(rng, &[((0, 5), 12), ((6, 11), 18), ((12, 17), 70)]);
            rng.random_range(from..=to)
        } else {
            let (from, to) = pick(
                rng,
                &[
                    ((18, 25), 16),
                    ((26, 35), 27),
                    ((36, 45), 25),
                    ((46, 55), 16),
                    ((56, 65), 9),
                    ((66, 85), 7),
                ],
            );
            rng.random_range(from..=to)
        };
        let sex = if minor {
            pick(
                rng,
                &[(Sex::Female, 55), (Sex::Male, 43), (Sex::Unspecified, 2)],
            )
        } else {
            pick(
                rng,
                &[(Sex::Female, 75), (Sex::Male, 23), (Sex::Unspecified, 2)],
            )
        };
        let (birth_date, birth_year) = match rng.random_range(0..100) {
            0..60 => {
                let birth = birth_date(rng, opened_on, age);
                (birth, birth.map(|d| d.year()))
            }
            60..90 => (None, Some(opened_on.year() - age as i32)),
            _ => (None, None),
        };
        let named = rng.random_bool(0.7);
        let first_name = named.then(|| {
            let list = match sex {
                Sex::Female => FEMALE_FIRST_NAMES,
                Sex::Male => MALE_FIRST_NAMES,
                Sex::Unspecified if rng.random_bool(0.5) => FEMALE_FIRST_NAMES,
                Sex::Unspecified => MALE_FIRST_NAMES,
            };
            (*one(rng, list)).to_owned()
        });
        let last_name = named.then(|| (*one(rng, LAST_NAMES)).to_owned());
        let commune_code = rng
            .random_bool(0.9)
            .then(|| one(rng, &post.communes).clone());
        let phone_number = (!minor && rng.random_bool(0.55)).then(|| {
            let prefix = if rng.random_bool(0.7) { "06" } else { "07" };
            phone(rng, prefix)
        });
        let known = pick(
            rng,
            &[
                (KnownToSocialServices::Yes, 35),
                (KnownToSocialServices::No, 50),
                (KnownToSocialServices::Unknown, 15),
            ],
        );
        let created_at = at(rng, opened_on, 8, 19);
        let beneficiary = uuid(rng, created_at);
        batch.beneficiaries.push(BeneficiaryRow {
            id: beneficiary.clone(),
            post_id: post.id.clone(),
            first_name,
            last_name,
            birth_date,
            birth_year,
            sex: sex.code().to_owned(),
            commune_code,
            phone: phone_number,
            known_to_social_services: known.code().to_owned(),
            created_at,
            updated_at: created_at,
            version: 1,
        });
        let situation_at = created_at + minutes(rng.random_range(1..=10));
        self.draw_situation(rng, batch, post, &beneficiary, situation_at, minor);
        if rng.random_bool(SECOND_SITUATION) {
            let again = opened_on + days(rng.random_range(20..=300));
            if again <= self.period.last_day {
                let years_later = again.year() - opened_on.year();
                let still_minor = (age as i32 + years_later) < 18;
                let again_at = at(rng, again, 8, 19);
                self.draw_situation(rng, batch, post, &beneficiary, again_at, still_minor);
            }
        }
    }

    /// Problems, principal first: conjugal or intra-family violence for `VIOLENCE` of them.
    fn draw_problems(rng: &mut ChaCha8Rng, minor: bool) -> Vec<ProblemCategory> {
        use ProblemCategory as P;
        let principal = match (rng.random_bool(VIOLENCE), minor) {
            (true, false) => pick(
                rng,
                &[(P::ConjugalViolence, 72), (P::IntraFamilyViolence, 28)],
            ),
            (true, true) => pick(
                rng,
                &[(P::IntraFamilyViolence, 85), (P::ConjugalViolence, 15)],
            ),
            (false, true) => pick(
                rng,
                &[
                    (P::ChildInDanger, 30),
                    (P::RunawayMinor, 20),
                    (P::FamilyConflictOrSeparation, 20),
                    (P::OtherViolenceOrHarassment, 10),
                    (P::SexualViolence, 8),
                    (P::MentalHealth, 6),
                    (P::SuicideRisk, 3),
                    (P::Addiction, 3),
                ],
            ),
            (false, false) => pick(
                rng,
                &[
                    (P::FamilyConflictOrSeparation, 20),
                    (P::OtherViolenceOrHarassment, 12),
                    (P::Precarity, 12),
                    (P::MentalHealth, 10),
                    (P::NeighbourhoodConflict, 9),
                    (P::Housing, 8),
                    (P::SexualViolence, 6),
                    (P::VulnerableElderlyOrDisabled, 6),
                    (P::AccessToRights, 6),
                    (P::Addiction, 4),
                    (P::SuicideRisk, 3),
                    (P::Other, 4),
                    (P::Radicalisation, 1),
                ],
            ),
        };
        let count = pick(rng, &[(1, 45), (2, 35), (3, 20)]);
        let mut problems = vec![principal];
        for _ in 0..20 {
            if problems.len() >= count {
                break;
            }
            let other = pick(
                rng,
                &[
                    (P::Housing, 14),
                    (P::Precarity, 14),
                    (P::FamilyConflictOrSeparation, 12),
                    (P::MentalHealth, 10),
                    (P::AccessToRights, 10),
                    (P::ChildInDanger, 8),
                    (P::Addiction, 8),
                    (P::OtherViolenceOrHarassment, 6),
                    (P::SexualViolence, 5),
                    (P::VulnerableElderlyOrDisabled, 4),
                    (P::SuicideRisk, 3),
                    (P::Other, 4),
                ],
            );
            if !problems.contains(&other) {
                problems.push(other);
            }
        }
        problems
    }

    fn draw_situation(
        &self,
        rng: &mut ChaCha8Rng,
        batch: &mut Batch,
        post: &PostInfo,
        beneficiary: &str,
        created_at: NaiveDateTime,
        minor: bool,
    ) {
        let opened_on = created_at.date();
        let yesterday = self.period.today - days(1);
        let today_start = self.period.today.and_time(NaiveTime::MIN);
        let id = uuid(rng, created_at);
        let (police, gendarmerie) = match post.kind {
            PostKind::Police => (62, 3),
            PostKind::Gendarmerie => (3, 62),
            PostKind::Mixed => (33, 32),
        };
        let origin = pick(
            rng,
            &[
                (Origin::Police, police),
                (Origin::Gendarmerie, gendarmerie),
                (Origin::Spontaneous, 13),
                (Origin::Appointment, 8),
                (Origin::OutsideService, 12),
                (Origin::Other, 2),
            ],
        );
        let referring_service = (origin == Origin::OutsideService).then(|| {
            pick(
                rng,
                &[
                    (ReferringService::DepartmentalSocialServices, 25),
                    (ReferringService::Ccas, 20),
                    (ReferringService::Association, 20),
                    (ReferringService::Hospital, 15),
                    (ReferringService::Justice, 8),
                    (ReferringService::School, 8),
                    (ReferringService::Other, 4),
                ],
            )
        });
        let standing = pick(
            rng,
            &[
                (Standing::Victim, 70),
                (Standing::Author, 10),
                (Standing::Both, 5),
                (Standing::Neither, 8),
                (Standing::Relative, 7),
            ],
        );
        let problems = Self::draw_problems(rng, minor);
        let violent = matches!(
            problems[0],
            ProblemCategory::ConjugalViolence | ProblemCategory::IntraFamilyViolence
        );
        let penal = rng.random_bool(if violent { 0.7 } else { 0.42 });
        let children = (!minor && rng.random_bool(0.7))
            .then(|| pick(rng, &[(0, 30), (1, 25), (2, 25), (3, 12), (4, 8)]));
        let worker = one(rng, &post.workers).clone();

        // Interventions: the reception itself, then follow-ups within FOLLOW_UP_DAYS.
        let count = pick(rng, &[(1, 30), (2, 30), (3, 22), (4, 18)]);
        let mut offsets: Vec<i64> = (1..count)
            .map(|_| rng.random_range(0..=FOLLOW_UP_DAYS))
            .collect();
        offsets.sort_unstable();
        let mut last_at = created_at;
        for (n, offset) in std::iter::once(0).chain(offsets).enumerate() {
            let occurred_on = (opened_on + days(offset)).min(yesterday);
            let mode = pick(
                rng,
                &[
                    (InterventionMode::Phone, 55),
                    (InterventionMode::InterviewAtUnit, 30),
                    (InterventionMode::Elsewhere, 6),
                    (InterventionMode::Accompaniment, 5),
                    (InterventionMode::HomeVisit, 4),
                ],
            );
            let kind = if n == 0 && rng.random_bool(0.8) {
                InterventionKind::ListeningAndEvaluation
            } else {
                pick(
                    rng,
                    &[
                        (InterventionKind::ListeningAndEvaluation, 15),
                        (InterventionKind::RightsInformation, 20),
                        (InterventionKind::EmotionalSupport, 20),
                        (InterventionKind::ProceduralHelp, 15),
                        (InterventionKind::Orientation, 14),
                        (InterventionKind::Mediation, 5),
                        (InterventionKind::UrgentShelterSearch, 4),
                        (InterventionKind::InformationPreoccupante, 2),
                        (InterventionKind::Other, 5),
                    ],
                )
            };
            let duration: i32 = if mode == InterventionMode::Phone {
                rng.random_range(2..=9) * 5
            } else {
                rng.random_range(4..=24) * 5
            };
            let recorded_at = if n == 0 {
                created_at + minutes(i64::from(duration))
            } else {
                at(rng, occurred_on, 8, 19)
            };
            last_at = last_at.max(recorded_at);
            batch.interventions.push(InterventionRow {
                id: uuid(rng, recorded_at),
                situation_id: id.clone(),
                post_id: Some(post.id.clone()),
                occurred_on,
                mode: mode.code().to_owned(),
                kind: kind.code().to_owned(),
                duration_minutes: duration,
                recorded_by: worker.clone(),
                created_at: recorded_at,
                updated_at: recorded_at,
                version: 1,
            });
        }

        let hand_off = rng
            .random_bool(HANDED_OFF)
            .then(|| self.draw_hand_off(rng, batch, post, &id, &worker, created_at, &problems));

        // The situation's own life: oriented when a hand-off is sent, closed as it ages.
        let mut status = SituationStatus::Open;
        let mut closing_reason = None;
        let mut updated_at = created_at;
        let mut version = 1;
        if let Some(sent_at) = hand_off.as_ref().and_then(|h| h.sent_at) {
            status = SituationStatus::Oriented;
            updated_at = sent_at;
            version += 1;
        }
        let age = (self.period.today - opened_on).num_days() as f64;
        let settled = hand_off.as_ref().is_none_or(|h| {
            matches!(
                h.status,
                HandOffStatus::Completed
                    | HandOffStatus::Accepted
                    | HandOffStatus::Declined
                    | HandOffStatus::Cancelled
            )
        });
        if settled && rng.random_bool(0.92 * (1.0 - (-age / 75.0).exp())) {
            let last = hand_off
                .as_ref()
                .map_or(last_at, |h| h.last_at.max(last_at))
                .max(updated_at);
            let closing_day = last.date() + days(rng.random_range(0..=30));
            let closed_at = at(rng, closing_day, 9, 18).max(last + minutes(30));
            if closed_at < today_start {
                let reason = match hand_off.as_ref().map(|h| h.status) {
                    Some(HandOffStatus::Completed | HandOffStatus::Accepted) => pick(
                        rng,
                        &[
                            (ClosingReason::HandedOff, 85),
                            (ClosingReason::NeedsMet, 15),
                        ],
                    ),
                    Some(_) => pick(
                        rng,
                        &[
                            (ClosingReason::NeedsMet, 30),
                            (ClosingReason::ContactLost, 30),
                            (ClosingReason::PersonDeclined, 25),
                            (ClosingReason::Other, 10),
                            (ClosingReason::MovedAway, 5),
                        ],
                    ),
                    None => pick(
                        rng,
                        &[
                            (ClosingReason::NeedsMet, 45),
                            (ClosingReason::ContactLost, 30),
                            (ClosingReason::PersonDeclined, 12),
                            (ClosingReason::MovedAway, 7),
                            (ClosingReason::Other, 6),
                        ],
                    ),
                };
                status = SituationStatus::Closed;
                closing_reason = Some(reason.code().to_owned());
                updated_at = closed_at;
                version += 1;
            }
        }

        batch.situations.push(SituationRow {
            id: id.clone(),
            post_id: post.id.clone(),
            beneficiary_id: beneficiary.to_owned(),
            opened_on,
            origin: origin.code().to_owned(),
            referring_service: referring_service.map(|s| s.code().to_owned()),
            standing: standing.code().to_owned(),
            penal,
            principal_problem: problems[0].code().to_owned(),
            children_in_household: children,
            status: status.code().to_owned(),
            closing_reason,
            created_at,
            updated_at,
            version,
        });
        for (position, problem) in (0_i32..).zip(&problems) {
            batch.situation_problems.push(SituationProblemRow {
                situation_id: id.clone(),
                problem: problem.code().to_owned(),
                position,
            });
        }
    }

    /// A hand-off with its consent and history, stopped where `today` cuts its course.
    #[allow(clippy::too_many_arguments)]
    fn draw_hand_off(
        &self,
        rng: &mut ChaCha8Rng,
        batch: &mut Batch,
        post: &PostInfo,
        situation: &str,
        worker: &str,
        situation_at: NaiveDateTime,
        problems: &[ProblemCategory],
    ) -> HandOffLife {
        use HandOffStatus as S;
        let yesterday = self.period.today - days(1);
        let today_start = self.period.today.and_time(NaiveTime::MIN);
        let opened_on = situation_at.date();
        let draft_day = (opened_on + days(rng.random_range(0..=14))).min(yesterday);
        let mut draft_at = at(rng, draft_day, 9, 16);
        if draft_at <= situation_at {
            draft_at = situation_at + minutes(rng.random_range(20..=90));
        }
        let directory = &self.partners[post.department];
        let principal = problems[0];
        let suited: Vec<&PartnerInfo> = directory
            .iter()
            .filter(|p| p.themes.contains(&principal))
            .collect();
        let partner = if suited.is_empty() {
            directory
                .iter()
                .find(|p| p.kind == PartnerKind::DepartmentalSocialServices)
                .unwrap_or(&directory[0])
        } else {
            *one(rng, &suited)
        };
        let mut reasons = vec![principal];
        if problems.len() > 1 && rng.random_bool(0.4) {
            reasons.push(problems[rng.random_range(1..problems.len())]);
        }
        let message = rng
            .random_bool(0.6)
            .then(|| (*one(rng, MESSAGES)).to_owned());
        let id = uuid(rng, draft_at);
        let answered_at = draft_at + minutes(rng.random_range(2..=20));
        let sent_at = answered_at + minutes(rng.random_range(1..=30));

        let target = pick(
            rng,
            &[
                (S::Completed, 50),
                (S::Declined, 16),
                (S::Accepted, 14),
                (S::Cancelled, 10),
                (S::Received, 4),
                (S::Sent, 4),
                (S::Draft, 2),
            ],
        );
        let cancelled_from = pick(
            rng,
            &[
                (S::Sent, 50),
                (S::Received, 20),
                (S::Accepted, 20),
                (S::Draft, 10),
            ],
        );
        let path: &[S] = match (target, cancelled_from) {
            (S::Draft, _) => &[],
            (S::Sent, _) => &[S::Sent],
            (S::Received, _) => &[S::Sent, S::Received],
            (S::Accepted, _) => &[S::Sent, S::Received, S::Accepted],
            (S::Declined, _) => &[S::Sent, S::Received, S::Declined],
            (S::Completed, _) => &[S::Sent, S::Received, S::Accepted, S::Completed],
            (S::Cancelled, S::Draft) => &[S::Cancelled],
            (S::Cancelled, S::Sent) => &[S::Sent, S::Cancelled],
            (S::Cancelled, S::Received) => &[S::Sent, S::Received, S::Cancelled],
            (S::Cancelled, _) => &[S::Sent, S::Received, S::Accepted, S::Cancelled],
            // Not drawn: expiry is the follow-up job's, not the seed's.
            (S::Expired, _) => &[S::Sent, S::Expired],
        };

        let mut transitions = vec![TransitionRow {
            hand_off_id: id.clone(),
            position: 0,
            from_status: None,
            to_status: S::Draft.code().to_owned(),
            at: draft_at,
            by_subject: worker.to_owned(),
            by_role: Role::SocialWorker.code().to_owned(),
            reason: None,
            comment: None,
        }];
        let mut status = S::Draft;
        let mut last_at = draft_at;
        let mut reached_sent = None;
        let mut decline_reason = None;
        let mut outcome = None;
        let mut result = None;
        for &next in path {
            let when = match next {
                S::Sent => sent_at,
                S::Received => last_at + minutes(rng.random_range(10..=2_880)),
                S::Accepted | S::Declined => last_at + minutes(rng.random_range(120..=10_080)),
                S::Completed => {
                    last_at + days(rng.random_range(3..=45)) + minutes(rng.random_range(0..=480))
                }
                _ => last_at + minutes(rng.random_range(60..=14_400)),
            };
            if when >= today_start {
                break;
            }
            let by_partner = matches!(next, S::Received | S::Accepted | S::Declined | S::Completed);
            let (by_subject, by_role) = if by_partner {
                (partner.subject.clone(), Role::Partner)
            } else {
                (worker.to_owned(), Role::SocialWorker)
            };
            let comment = (next == S::Cancelled && rng.random_bool(0.7))
                .then(|| (*one(rng, CANCEL_COMMENTS)).to_owned());
            match next {
                S::Sent => reached_sent = Some(when),
                S::Declined => {
                    decline_reason = Some(
                        pick(
                            rng,
                            &[
                                (DeclineReason::NoCapacity, 35),
                                (DeclineReason::OutOfScope, 20),
                                (DeclineReason::PersonUnreachable, 20),
                                (DeclineReason::AlreadyFollowed, 15),
                                (DeclineReason::OutOfTerritory, 5),
                                (DeclineReason::Other, 5),
                            ],
                        )
                        .code()
                        .to_owned(),
                    );
                }
                S::Completed => {
                    let (text, coded) = *one(rng, OUTCOMES);
                    outcome = Some(text.to_owned());
                    result = Some(coded.code().to_owned());
                }
                _ => {}
            }
            transitions.push(TransitionRow {
                hand_off_id: id.clone(),
                position: i32::try_from(transitions.len()).unwrap_or(i32::MAX),
                from_status: Some(status.code().to_owned()),
                to_status: next.code().to_owned(),
                at: when,
                by_subject,
                by_role: by_role.code().to_owned(),
                reason: None,
                comment,
            });
            status = next;
            last_at = when;
        }

        batch.hand_offs.push(HandOffRow {
            id: id.clone(),
            situation_id: situation.to_owned(),
            post_id: post.id.clone(),
            partner_id: partner.id.clone(),
            status: status.code().to_owned(),
            reasons: join(reasons.iter().map(|r| r.code())),
            message,
            legal_exception: None,
            decline_reason,
            outcome,
            result,
            created_by: worker.to_owned(),
            created_at: draft_at,
            updated_at: last_at,
            version: i64::try_from(transitions.len()).unwrap_or(1),
        });
        batch.hand_off_transitions.extend(transitions);
        batch.consents.push(ConsentRow {
            hand_off_id: id,
            given: true,
            form: ConsentForm::Oral.code().to_owned(),
            answered_at,
            shared_data: join(
                [
                    SharedData::Identity,
                    SharedData::Contact,
                    SharedData::Problems,
                ]
                .iter()
                .map(|s| s.code()),
            ),
            recorded_by: worker.to_owned(),
            withdrawn_at: None,
            withdrawn_by: None,
            created_at: answered_at,
            updated_at: answered_at,
            version: 1,
        });
        HandOffLife {
            status,
            sent_at: reached_sent,
            last_at,
        }
    }
}

/// `total` split in proportion to `weights`, the remainder to the largest fractions
/// (the earliest first among equals).
fn spread(total: u32, weights: &[u64]) -> Vec<u32> {
    let sum: u64 = weights.iter().sum::<u64>().max(1);
    let exact: Vec<(u64, u64)> = weights
        .iter()
        .map(|w| {
            let share = u64::from(total) * w;
            (share / sum, share % sum)
        })
        .collect();
    let mut parts: Vec<u32> = exact
        .iter()
        .map(|(whole, _)| u32::try_from(*whole).unwrap_or(0))
        .collect();
    let given: u32 = parts.iter().sum();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    for index in order.into_iter().take(total.saturating_sub(given) as usize) {
        parts[index] += 1;
    }
    parts
}

/// A birth date that makes the person exactly `age` on `day`.
fn birth_date(rng: &mut ChaCha8Rng, day: NaiveDate, age: u32) -> Option<NaiveDate> {
    let latest = day.checked_sub_months(Months::new(12 * age))?;
    let before = day.checked_sub_months(Months::new(12 * (age + 1)))?;
    let span = (latest - before).num_days().max(1);
    Some(latest - days(rng.random_range(0..span)))
}

impl Iterator for Generator {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if let Some(directory) = self.directory.take() {
            return Some(directory);
        }
        let mut batch = Batch::default();
        while self.next < self.work.len() && batch.situations.len() < self.batch_situations {
            let work = self.work[self.next];
            self.next += 1;
            self.draw_work(&mut batch, work);
        }
        (!batch.is_empty()).then_some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn birth_dates_give_the_age_asked() {
        let mut rng = rng_for(7, 0);
        for age in [0, 1, 17, 18, 40, 85] {
            for opened in [day(2024, 2, 29), day(2025, 1, 1), day(2025, 12, 31)] {
                for _ in 0..50 {
                    let birth = birth_date(&mut rng, opened, age).unwrap();
                    assert_eq!(opened.years_since(birth), Some(age), "{opened} {birth}");
                }
            }
        }
    }

    #[test]
    fn ids_are_v7_stamped_with_the_record_time() {
        let mut rng = rng_for(1, 0);
        let when = day(2025, 3, 14).and_hms_opt(10, 0, 0).unwrap();
        let id: uuid::Uuid = uuid(&mut rng, when).parse().unwrap();
        assert_eq!(id.get_version_num(), 7);
        let (secs, _) = id.get_timestamp().unwrap().to_unix();
        assert_eq!(i64::try_from(secs).unwrap(), when.and_utc().timestamp());
    }

    #[test]
    fn a_year_is_spread_over_its_months_by_their_days() {
        let parts = spread(500, &[31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]);
        assert_eq!(parts.iter().sum::<u32>(), 500);
        assert!(parts.iter().all(|n| (38..=43).contains(n)), "{parts:?}");
        assert_eq!(spread(3, &[1, 1, 1, 1]), [1, 1, 1, 0]);
        assert_eq!(spread(0, &[]), Vec::<u32>::new());
    }

    #[test]
    fn streams_do_not_collide() {
        let mut seen = std::collections::BTreeSet::new();
        for post in 0..300 {
            for year in [0, 2000, 2025, 2026] {
                for purpose in 0..4 {
                    assert!(seen.insert(stream(post, year, purpose)));
                }
            }
        }
    }
}

//! Benchmark of the statistics grid on a seeded database (`relais seed`), on the backend that
//! `RELAIS_BENCH_DATABASE_URL` names. Not a test: it measures and writes a report.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/relais_seed relais seed --posts 200 --years 10
//! RELAIS_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/relais_seed cargo bench -p relais-api --bench grid
//! ```
//!
//! For one post-year, one department-year and the whole country for one year, it times: the grid
//! engine (`statistics::compute`, one SQL statement); the same through HTTP (the real app, in
//! process, with a `statistics` token: disclosure control on); **the limit**, one pass over the
//! same period's situations, their people and the period's interventions (`one_pass_sql`, with a
//! trivial aggregate: issue 17's baseline); **every table the grid counts, read once**
//! (`every_table_sql`: the limit plus the period's problems and sent hand-offs, which the grid
//! counts too and the limit leaves out, all read row by row); and the grid's heaviest query
//! written by hand (persons by age bracket, counted once each by their first situation). It also
//! reads the process's peak memory after each scope, to show that memory does not grow with the
//! data. All of a scope's timings are taken in turn, round after round (`measure_together`), at
//! least fifteen rounds and two seconds, so that a busy moment of the machine weighs on each.
//! Results go to `target/bench/grid-<backend>.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use actix_web::{HttpServer, web};
use chrono::NaiveDate;
use diesel::{Connection, RunQueryDsl};
use relais_api::auth::{JwtSettings, resolve_keys};
use relais_api::grids::GridSet;
use relais_api::http::state::AppState;
use relais_domain::access::Principal;
use relais_domain::reference::Role;
use relais_persistence::statistics::{self, StatScope};
use relais_persistence::{Backend, Database, DbConnection, StoreError};

const WARM_UP: usize = 3;
/// Rounds at least, and until `MIN_TIME` has passed: a post's grid takes a few milliseconds, and
/// fifteen of them fit in a moment of a busy machine.
const RUNS: usize = 15;
const MIN_TIME: Duration = Duration::from_secs(2);

struct Timing {
    median: Duration,
    p90: Duration,
}

/// Times each of `jobs` once per round, in turn, round after round: a moment when the machine is
/// busy weighs on every job alike, so that their ratios hold even when their times move (timed one
/// after the other, fifteen runs each, a post's ratio moved from 1.5× to 2.8× between rounds).
fn measure_together(jobs: &mut [&mut dyn FnMut()]) -> Vec<Timing> {
    for _ in 0..WARM_UP {
        for job in jobs.iter_mut() {
            job();
        }
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); jobs.len()];
    let started = Instant::now();
    while times[0].len() < RUNS || started.elapsed() < MIN_TIME {
        for (job, times) in jobs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            job();
            times.push(start.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut times| {
            times.sort();
            Timing {
                median: times[times.len() / 2],
                p90: times[times.len() * 9 / 10],
            }
        })
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Peak resident memory of this process, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(diesel::QueryableByName)]
struct Bucket {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    #[allow(dead_code)]
    bracket: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    #[allow(dead_code)]
    n: i64,
}

/// The heaviest query of the grid, by hand: persons of the period counted once, by the age
/// bracket at their first situation.
fn baseline_sql(backend: Backend, from: NaiveDate, to: NaiveDate, scope: &StatScope) -> String {
    let (join, condition) = statistics::scope_filter(scope, "s").unwrap();
    let age = match backend {
        Backend::Postgres => {
            "CASE WHEN b.birth_date IS NOT NULL THEN CAST(date_part('year', age(s.opened_on, b.birth_date)) AS INTEGER) \
             WHEN b.birth_year IS NOT NULL THEN CAST(date_part('year', s.opened_on) AS INTEGER) - b.birth_year END"
        }
        Backend::Sqlite => {
            "CASE WHEN b.birth_date IS NOT NULL THEN CAST(strftime('%Y', s.opened_on) AS INTEGER) - CAST(strftime('%Y', b.birth_date) AS INTEGER) \
             - (CASE WHEN strftime('%m-%d', s.opened_on) < strftime('%m-%d', b.birth_date) THEN 1 ELSE 0 END) \
             WHEN b.birth_year IS NOT NULL THEN CAST(strftime('%Y', s.opened_on) AS INTEGER) - b.birth_year END"
        }
    };
    format!(
        "SELECT bracket, COUNT(*) AS n FROM (
            SELECT CASE WHEN age < 13 THEN 0 WHEN age < 18 THEN 1 WHEN age < 26 THEN 2 WHEN age < 60 THEN 3 WHEN age >= 60 THEN 4 END AS bracket,
                   ROW_NUMBER() OVER (PARTITION BY beneficiary_id ORDER BY opened_on, id) AS rank_in_period
            FROM (SELECT s.id, s.beneficiary_id, s.opened_on, {age} AS age
                  FROM situations s JOIN beneficiaries b ON b.id = s.beneficiary_id{join}
                  WHERE s.opened_on >= '{from}' AND s.opened_on <= '{to}' AND {condition}) sit
         ) ranked WHERE rank_in_period = 1 GROUP BY bracket"
    )
}

#[derive(diesel::QueryableByName)]
struct Pass {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    #[allow(dead_code)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    #[allow(dead_code)]
    m: i64,
}

/// The limit: one pass over the period's situations with their people, and over the period's
/// interventions, in scope, touching the columns the grid splits by (issue 17's baseline). Scoped
/// as the grid is (`statistics::scope_filter`).
fn one_pass_sql(from: NaiveDate, to: NaiveDate, scope: &StatScope) -> String {
    let (situations_join, situations_in_scope) = statistics::scope_filter(scope, "s").unwrap();
    let (interventions_join, interventions_in_scope) =
        statistics::scope_filter(scope, "i").unwrap();
    format!(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT s.beneficiary_id) + SUM(CASE WHEN b.sex = 'female' THEN 1 ELSE 0 END) \
                + COUNT(b.birth_year) + COUNT(b.birth_date) + COUNT(s.origin) + COUNT(b.known_to_social_services) AS m \
         FROM situations s JOIN beneficiaries b ON b.id = s.beneficiary_id{situations_join} \
         WHERE s.opened_on >= '{from}' AND s.opened_on <= '{to}' AND {situations_in_scope}
         UNION ALL
         SELECT COUNT(*), COUNT(i.mode) + COUNT(i.kind) FROM interventions i{interventions_join} \
         WHERE i.occurred_on >= '{from}' AND i.occurred_on <= '{to}' AND {interventions_in_scope}"
    )
}

/// Every table the grid counts, read once, row by row: the limit's situations with their people
/// (and their problems, kept on the row) and its interventions, and also the period's sent
/// hand-offs, which the grid counts too and the limit leaves out. What reading the rows of each
/// table once costs; since migration 000020 the grid reads the interventions of whole months as
/// the counts the database keeps, so it can cost less than this (a national grid does).
fn every_table_sql(from: NaiveDate, to: NaiveDate, scope: &StatScope) -> String {
    let (situations_join, situations_in_scope) = statistics::scope_filter(scope, "s").unwrap();
    let (interventions_join, interventions_in_scope) =
        statistics::scope_filter(scope, "i").unwrap();
    let (hand_offs_join, hand_offs_in_scope) = statistics::scope_filter(scope, "h").unwrap();
    format!(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT s.beneficiary_id) + SUM(CASE WHEN b.sex = 'female' THEN 1 ELSE 0 END) \
                + COUNT(b.birth_year) + COUNT(b.birth_date) + COUNT(s.origin) + COUNT(b.known_to_social_services) \
                + COUNT(s.problems) AS m \
         FROM situations s JOIN beneficiaries b ON b.id = s.beneficiary_id{situations_join} \
         WHERE s.opened_on >= '{from}' AND s.opened_on <= '{to}' AND {situations_in_scope}
         UNION ALL
         SELECT COUNT(*), COUNT(i.mode) + COUNT(i.kind) FROM interventions i{interventions_join} \
         WHERE i.occurred_on >= '{from}' AND i.occurred_on <= '{to}' AND {interventions_in_scope}
         UNION ALL
         SELECT COUNT(*), COUNT(h.status) + COUNT(h.answered_at) FROM hand_offs h{hand_offs_join} \
         WHERE h.sent_at IS NOT NULL AND h.situation_opened_on >= '{from}' AND h.situation_opened_on <= '{to}' \
           AND {hand_offs_in_scope}"
    )
}

/// `load` under the planner settings the grid engine runs with (`statistics::plan_settings`):
/// the limit and the grid are compared under the same settings.
fn as_the_grid<T>(
    conn: &mut DbConnection,
    load: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<T>,
) -> Result<T, StoreError> {
    conn.transaction(|conn| {
        statistics::plan_settings(conn)?;
        Ok(load(conn)?)
    })
}

/// Runs the baseline `sql` under the grid's planner settings, and with `serial` also with no
/// parallel workers (PostgreSQL only). PostgreSQL plans the limit in parallel (two workers) even
/// for a post, and starting the workers costs more than the pass (14 ms against 2, by hand): both
/// plans are timed and the faster kept, so the engine is measured against the cheapest pass.
fn run_baseline(db: &Database, sql: &str, serial: bool) {
    db.read(|conn| {
        as_the_grid(conn, |conn| {
            if serial {
                diesel::sql_query("SET LOCAL max_parallel_workers_per_gather = 0").execute(conn)?;
            }
            diesel::sql_query(sql).load::<Pass>(conn)
        })
    })
    .unwrap();
}

/// The faster of a baseline's plans.
fn faster(planned: Timing, serial: Option<Timing>) -> Timing {
    match serial {
        Some(serial) if serial.median < planned.median => serial,
        _ => planned,
    }
}

#[derive(diesel::QueryableByName)]
struct BusiestPost {
    #[diesel(sql_type = diesel::sql_types::Text)]
    post_id: String,
}

#[derive(diesel::QueryableByName)]
struct Busiest {
    #[diesel(sql_type = diesel::sql_types::Text)]
    department_code: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    /// The busiest year, as text.
    last_day: String,
}

fn main() {
    let Ok(url) = std::env::var("RELAIS_BENCH_DATABASE_URL") else {
        println!(
            "RELAIS_BENCH_DATABASE_URL is not set: seed a database with `relais seed` and name it there."
        );
        return;
    };
    // The grid itself is measured, with no statement timeout to cut a national scope short.
    let unbounded = relais_persistence::DbSettings {
        statement_timeout: std::time::Duration::ZERO,
        ..relais_persistence::DbSettings::default()
    };
    // The grid reads no sealed column, but the database's instance secret is sealed.
    relais_api::keys::install(&relais_api::keys::KeySettings::from_env(&url))
        .expect("the keys of the seeded database");
    let db = Database::connect_with(&url, 4, &unbounded).expect("open the seeded database");
    db.migrate().expect("migrate the seeded database");
    let backend = db.backend();
    let grids = GridSet::load(None).unwrap();
    let settings = JwtSettings {
        secret: Some("benchmark-secret-benchmark-secret-benchmark".into()),
        issuer: "relais".into(),
        audience: "relais".into(),
        ..JwtSettings::default()
    };
    let (verifier, issuer, _) = resolve_keys(&settings, &db).unwrap();
    let observatory = Principal {
        subject: "bench".into(),
        role: Role::Statistics,
        post_ids: vec![],
        unit_id: None,
        partner_id: None,
    };
    let token = issuer
        .unwrap()
        .issue(&observatory, chrono::Duration::hours(1))
        .unwrap();

    // The busiest year of the data, and its busiest department.
    let rows: Vec<Busiest> = db
        .read(|conn| -> Result<_, StoreError> {
            Ok(diesel::sql_query(
                "SELECT p.department_code, COUNT(*) AS n, \
                   (SELECT y FROM (SELECT substr(CAST(opened_on AS TEXT), 1, 4) AS y, COUNT(*) AS c FROM situations \
                    GROUP BY substr(CAST(opened_on AS TEXT), 1, 4) ORDER BY c DESC, y DESC) years LIMIT 1) AS last_day \
                 FROM situations s JOIN posts p ON p.id = s.post_id GROUP BY p.department_code ORDER BY n DESC, p.department_code",
            )
            .load(conn)?)
        })
        .unwrap();
    let total: i64 = rows.iter().map(|r| r.n).sum();
    let department = rows[0].department_code.clone();
    let year: i32 = rows[0].last_day[..4].parse::<i32>().unwrap();
    let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap();
    let grid = grids.in_force(from).unwrap().clone();
    let busiest_post: Vec<BusiestPost> = db
        .read(|conn| -> Result<_, StoreError> {
            Ok(diesel::sql_query(format!(
                "SELECT s.post_id FROM situations s JOIN posts p ON p.id = s.post_id \
                 WHERE p.department_code = '{department}' AND s.opened_on >= '{from}' AND s.opened_on <= '{to}' \
                 GROUP BY s.post_id ORDER BY COUNT(*) DESC, s.post_id LIMIT 1"
            ))
            .load(conn)?)
        })
        .unwrap();
    let post: relais_domain::ids::PostId = busiest_post[0].post_id.parse().unwrap();

    // `RELAIS_BENCH_PROFILE=post|department|country`: only the engine, for that scope, for ten
    // seconds, so that a sampling profiler (`perf record -g`) sees where its time goes.
    if let Ok(which) = std::env::var("RELAIS_BENCH_PROFILE") {
        let scope = match which.as_str() {
            "post" => StatScope::Posts(vec![post]),
            "department" => StatScope::Department(department.clone()),
            _ => StatScope::National,
        };
        let started = Instant::now();
        let mut runs = 0;
        while started.elapsed() < Duration::from_secs(10) {
            db.read(|conn| statistics::compute(conn, &grid, from, to, &scope))
                .unwrap();
            runs += 1;
        }
        println!("{runs} grids of {which} in {:?}", started.elapsed());
        return;
    }

    // No rate limits: the benchmark measures the queries.
    let state = web::Data::new(
        AppState::new(db.clone(), verifier, grids, &Default::default(), None).unwrap(),
    );
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || relais_api::app(state.clone()))
                .workers(2)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .unwrap();
            sender.send(server.addrs()[0]).unwrap();
            server.run().await.unwrap();
        });
    });
    let address = receiver.recv().unwrap();

    let mut report = format!(
        "### {backend} — {total} situations in the database; year {year}\n\n\
         | scope | situations in scope | the limit: one pass (median / p90 ms) | every table the grid reads, once (median / p90 ms) | grid engine, one SQL statement (median / p90 ms) | through HTTP, suppression on (median / p90 ms) | heaviest query by hand (median / p90 ms) | engine ÷ limit | engine ÷ every table once | HTTP ÷ limit | peak RSS after (MiB) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        backend = backend.name()
    );
    for (label, scope, query) in [
        (
            format!("post {post}"),
            StatScope::Posts(vec![post]),
            format!("post_id={post}"),
        ),
        (
            format!("department {department}"),
            StatScope::Department(department.clone()),
            format!("department={department}"),
        ),
        (
            "whole country".to_owned(),
            StatScope::National,
            String::new(),
        ),
    ] {
        let compute = |conn: &mut DbConnection| statistics::compute(conn, &grid, from, to, &scope);
        let in_scope = db
            .read(compute)
            .unwrap()
            .iter()
            .find(|r| r.indicator == -2)
            .map_or(0, |r| r.n);
        // `source=live`: the observatory reads the posts' submissions by default, and the seed
        // submits none; the grid counted from the cases is what is measured.
        let url =
            format!("http://{address}/api/v1/statistics?from={from}&to={to}&source=live&{query}");
        let published = ureq::get(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert!(
            published.contains("\"disclosure_control\""),
            "suppression is on"
        );
        let sql = baseline_sql(backend, from, to, &scope);
        let pass_sql = one_pass_sql(from, to, &scope);
        let every_sql = every_table_sql(from, to, &scope);
        let mut engine = || {
            db.read(compute).unwrap();
        };
        let mut http = || {
            let response = ureq::get(&url)
                .set("Authorization", &format!("Bearer {token}"))
                .call()
                .unwrap();
            assert_eq!(response.status(), 200);
            let _ = response.into_string().unwrap();
        };
        let mut heaviest = || {
            db.read(|conn| as_the_grid(conn, |conn| diesel::sql_query(&sql).load::<Bucket>(conn)))
                .unwrap();
        };
        let mut limit = || run_baseline(&db, &pass_sql, false);
        let mut every_table = || run_baseline(&db, &every_sql, false);
        let mut limit_serial = || run_baseline(&db, &pass_sql, true);
        let mut every_table_serial = || run_baseline(&db, &every_sql, true);
        let mut jobs: Vec<&mut dyn FnMut()> = vec![
            &mut engine,
            &mut http,
            &mut heaviest,
            &mut limit,
            &mut every_table,
        ];
        if backend == Backend::Postgres {
            jobs.push(&mut limit_serial);
            jobs.push(&mut every_table_serial);
        }
        let mut timings = measure_together(&mut jobs).into_iter();
        let mut next = || timings.next().unwrap();
        let (engine, http, baseline) = (next(), next(), next());
        let (limit, every_table) = (next(), next());
        let (limit, every_table) = match backend {
            Backend::Postgres => (
                faster(limit, Some(next())),
                faster(every_table, Some(next())),
            ),
            Backend::Sqlite => (faster(limit, None), faster(every_table, None)),
        };
        let ratio = |t: &Timing| t.median.as_secs_f64() / limit.median.as_secs_f64();
        writeln!(
            report,
            "| {label} | {in_scope} | {} / {} | {} / {} | {} / {} | {} / {} | {} / {} | {:.2}× | {:.2}× | {:.2}× | {:.0} |",
            ms(limit.median),
            ms(limit.p90),
            ms(every_table.median),
            ms(every_table.p90),
            ms(engine.median),
            ms(engine.p90),
            ms(http.median),
            ms(http.p90),
            ms(baseline.median),
            ms(baseline.p90),
            ratio(&engine),
            engine.median.as_secs_f64() / every_table.median.as_secs_f64(),
            ratio(&http),
            peak_rss_mib(),
        )
        .unwrap();
    }
    if std::env::var("RELAIS_BENCH_EXPLAIN").is_ok() {
        let scope = StatScope::National;
        println!(
            "{}",
            statistics::statement(backend, &grid, from, to, &scope).unwrap()
        );
    }
    println!("{report}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("grid-{}.md", backend.name()));
    std::fs::write(&path, &report).unwrap();
    println!("written to {}", path.display());
}

//! `relais seed`: fills a database with a deterministic synthetic dataset shaped like the
//! field's published figures (300–700 persons a year per post, 1–4 interventions per
//! situation, conjugal and intra-family violence in about two thirds of situations, three
//! women in four among adults, about one minor in eight, half the people unknown to social
//! services, most contacts by phone), for statistics and load tests.
//!
//! The rows are drawn on one thread and written on another, in batches of one transaction.

mod generate;
mod places;

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, TimeDelta};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use relais_persistence::bulk::{self, Batch, TableCounts};
use relais_persistence::{Backend, Database, StoreError};

use crate::cli::config::Settings;
pub use generate::{Generator, Period};

/// Situations per batch (one transaction); about eight rows go with each.
pub const DEFAULT_BATCH_SITUATIONS: usize = 2_500;
/// Writers on PostgreSQL: one per core of the machine the service is sized for.
const WRITERS: usize = 2;
/// The earliest year the dataset may start: persons up to 85 are then born after 1900.
const EARLIEST_YEAR: i32 = 2000;

/// The options of `relais seed`.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// How many posts (spread over real departments, each with its units and directory).
    #[arg(long, default_value_t = 10)]
    pub posts: u32,
    /// How many calendar years, ending with the current one (or starting with --first-year).
    #[arg(long, default_value_t = 1)]
    pub years: u32,
    /// The seed: the same arguments give the same data, ids included.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The first year of the period, instead of counting back from the current year.
    #[arg(long)]
    pub first_year: Option<i32>,
    /// Add to a database that already holds data (use another --seed than before).
    #[arg(long)]
    pub append: bool,
}

/// What to generate, resolved against a day.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub posts: u32,
    pub years: u32,
    pub seed: u64,
    pub first_year: Option<i32>,
    /// Nothing is dated on or after this day; the period ends the day before at the latest.
    pub today: NaiveDate,
    pub batch_situations: usize,
    /// Refuse a database that already has posts unless set.
    pub append: bool,
    /// Draw a progress bar on stderr (if it is a terminal).
    pub progress: bool,
}

impl SeedOptions {
    /// The options of the command line, for today.
    pub fn from_args(args: &SeedArgs, today: NaiveDate) -> Self {
        SeedOptions {
            posts: args.posts,
            years: args.years,
            seed: args.seed,
            first_year: args.first_year,
            today,
            batch_situations: DEFAULT_BATCH_SITUATIONS,
            append: args.append,
            progress: true,
        }
    }

    /// The days situations may open on.
    pub fn period(&self) -> Result<Period, SeedError> {
        let invalid = |m: String| Err(SeedError::Options(m));
        if !(1..=100_000).contains(&self.posts) {
            return invalid(format!(
                "--posts {} is not between 1 and 100000",
                self.posts
            ));
        }
        if !(1..=50).contains(&self.years) {
            return invalid(format!("--years {} is not between 1 and 50", self.years));
        }
        let years = i32::try_from(self.years).unwrap_or(50);
        let first_year = self.first_year.unwrap_or(self.today.year() - years + 1);
        if !(EARLIEST_YEAR..=self.today.year()).contains(&first_year) {
            return invalid(format!(
                "the period would start in {first_year}: choose a first year between {EARLIEST_YEAR} and {}",
                self.today.year()
            ));
        }
        let yesterday = self.today - TimeDelta::days(1);
        let (Some(first_day), Some(end)) = (
            NaiveDate::from_ymd_opt(first_year, 1, 1),
            NaiveDate::from_ymd_opt(first_year + years - 1, 12, 31),
        ) else {
            return invalid(format!("no calendar year {first_year}"));
        };
        let last_day = end.min(yesterday);
        if last_day < first_day {
            return invalid("the period has no day before today".to_owned());
        }
        Ok(Period {
            first_day,
            last_day,
            today: self.today,
        })
    }
}

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Options(String),
    #[error(
        "the database already holds {0} post(s): seed an empty database, or pass --append with another --seed"
    )]
    NotEmpty(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What was written, and how fast.
#[derive(Debug, Clone)]
pub struct Summary {
    pub counts: TableCounts,
    pub elapsed: Duration,
    pub period: Period,
}

impl Summary {
    pub fn rows(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    pub fn rows_per_second(&self) -> f64 {
        self.rows() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seeded {} to {} (situations opened in that period)",
            self.period.first_day, self.period.last_day
        )?;
        for (table, count) in &self.counts {
            writeln!(f, "  {table:<22}{count:>12}")?;
        }
        writeln!(f, "  {:<22}{:>12}", "total rows", self.rows())?;
        write!(
            f,
            "in {:.1} s: {:.0} rows/s",
            self.elapsed.as_secs_f64(),
            self.rows_per_second()
        )
    }
}

fn add(total: &mut TableCounts, batch: &TableCounts) {
    if total.is_empty() {
        total.clone_from(batch);
        return;
    }
    for ((_, sum), (_, n)) in total.iter_mut().zip(batch) {
        *sum += n;
    }
}

fn progress_bar(length: u64, visible: bool) -> ProgressBar {
    let target = if visible && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(length), target);
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} persons, eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// The progress bar and the running total behind its message, shared by the writers.
struct Progress {
    bar: ProgressBar,
    rows: AtomicU64,
    started: Instant,
}

impl Progress {
    fn advance(&self, batch: &Batch, rows: u64) {
        let rows = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        self.bar
            .inc(u64::try_from(batch.beneficiaries.len()).unwrap_or(0));
        let per_second = rows as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar
            .set_message(format!("{rows} rows, {per_second:.0} rows/s"));
    }
}

/// Writes the batches one receives until the channel closes or another writer fails.
fn drain(
    db: &Database,
    receiver: &Mutex<Receiver<Batch>>,
    failed: &AtomicBool,
    progress: &Progress,
) -> Result<TableCounts, SeedError> {
    let mut counts = TableCounts::new();
    while !failed.load(Ordering::Relaxed) {
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => break,
        };
        let Ok(batch) = next else {
            break;
        };
        match bulk::insert(db, &batch) {
            Ok(rows) => progress.advance(&batch, rows),
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                return Err(e.into());
            }
        }
        add(&mut counts, &batch.counts());
    }
    Ok(counts)
}

/// Generates the dataset `options` describe and writes it into `db`.
///
/// One thread draws the batches; the writers take them as they come, each batch in a
/// transaction of its own. SQLite has one writer; PostgreSQL two, one per core, since the
/// server's work (checks, foreign keys, indexes) is what takes the time.
pub fn seed(db: &Database, options: &SeedOptions) -> Result<Summary, SeedError> {
    let period = options.period()?;
    let posts = db.read(bulk::table_counts)?;
    let existing = posts.first().map_or(0, |(_, n)| *n);
    if existing > 0 && !options.append {
        return Err(SeedError::NotEmpty(existing));
    }
    bulk::prepare(db)?;
    let started = Instant::now();
    let mut generator = Generator::new(
        options.seed,
        usize::try_from(options.posts).unwrap_or(usize::MAX),
        period,
        options.batch_situations,
    );
    let progress = Progress {
        bar: progress_bar(generator.persons(), options.progress),
        rows: AtomicU64::new(0),
        started,
    };
    let mut counts = TableCounts::new();
    // The directory first, alone: every later batch refers to its posts and partners.
    if let Some(directory) = generator.next() {
        let rows = bulk::insert(db, &directory)?;
        progress.advance(&directory, rows);
        add(&mut counts, &directory.counts());
    }
    let writers = match db.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => WRITERS,
    };
    let failed = AtomicBool::new(false);
    let written: Vec<Result<TableCounts, SeedError>> = std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel(2 * writers);
        scope.spawn(move || {
            for batch in generator {
                if sender.send(batch).is_err() {
                    break;
                }
            }
        });
        // Each writer holds the receiving end: when the last one stops, the channel closes
        // and the drawing thread ends, even if the writers stopped early.
        let receiver = Arc::new(Mutex::new(receiver));
        let (failed, progress) = (&failed, &progress);
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                let receiver = Arc::clone(&receiver);
                scope.spawn(move || drain(db, &receiver, failed, progress))
            })
            .collect();
        drop(receiver);
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for result in written {
        add(&mut counts, &result?);
    }
    progress.bar.finish_and_clear();
    bulk::analyze(db)?;
    Ok(Summary {
        counts,
        elapsed: started.elapsed(),
        period,
    })
}

/// `relais seed`: opens `DATABASE_URL` (applying migrations), seeds it and prints the summary.
pub fn command(settings: &Settings, args: &SeedArgs) -> Result<(), String> {
    let options = SeedOptions::from_args(
        args,
        crate::clock::Clock::now(&crate::clock::SystemClock).date_naive(),
    );
    options.period().map_err(|e| e.to_string())?;
    // Bulk loads run longer than a request may: no statement timeout here.
    let no_statement_timeout = relais_persistence::DbSettings {
        statement_timeout: std::time::Duration::ZERO,
        ..settings.db.clone()
    };
    crate::keys::install(&settings.keys)?;
    let db = Database::connect_with(&settings.database_url, 2, &no_statement_timeout)
        .and_then(|db| db.migrate().map(|_| db))
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let summary = seed(&db, &options).map_err(|e| e.to_string())?;
    println!("{summary}");
    Ok(())
}

//! The `affilia` command line. Every subcommand reads the same settings (flags, `AFFILIA_*`
//! environment, optional TOML file); see `affilia serve --help`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::app::Application;
use crate::config::{Settings, SettingsArgs};
use crate::db::Db;
use crate::domain::partners::onboarding;
use crate::domain::tenancy::api_keys::{self, Scope};
use crate::domain::tenancy::audit::Actor;
use crate::domain::tenancy::consumers;
use crate::domain::tenancy::domain_verification;
use crate::domain::{tenancy::staff, tenancy::vendors};
use crate::jobs::Worker;
use crate::jobs::mailer::Mailer;
use crate::progress::Progress;
use crate::telemetry;

/// Affilia: self-hosted affiliate and partner programs.
#[derive(Debug, Parser)]
#[command(name = "affilia", version, about)]
pub struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve the dashboard, portal and API (with the job worker).
    Serve {
        /// Do not run the background job worker in this process (run `affilia worker`
        /// elsewhere instead).
        #[arg(long)]
        no_worker: bool,
    },
    /// Run only the background job worker (email delivery, ...), until SIGTERM or Ctrl-C.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administrative tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The double-entry ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Summary tables derived from the click log.
    #[command(subcommand)]
    Rollups(RollupsCommand),
    /// Fill a vendor's default program with 90 days of demo activity, so the dashboard and
    /// portal show a living program: affiliates in every state and an application queue,
    /// clicks with a weekday pattern and growth, referrals, conversions (pending, approved,
    /// rejected, refunded in full or in part), campaign links, deals, and payout runs (paid
    /// at the end of each past month, one due now).
    ///
    /// Everything goes through the same rules as real use (ledger, rollups, audit log, and
    /// emails to demo.example addresses, which receive no mail), so `affilia ledger verify`
    /// passes afterwards. Dates run up to now. A vendor that already has affiliates is
    /// refused unless --force. For a benchmark-sized dataset (millions of rows written
    /// straight into storage) use `affilia admin load-dataset` instead.
    Demo {
        /// Vendor id or slug (printed by `affilia admin create-vendor`; on the dashboard,
        /// the portal address ends with it).
        #[arg(long)]
        vendor: String,
        /// small: a few dozen affiliates, seconds; large: a few thousand affiliates and
        /// about 100,000 clicks, a few minutes.
        #[arg(long, value_enum, default_value = "small")]
        scale: crate::demo::Scale,
        /// Seed of every random choice: the same seed makes the same program.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Add to a vendor that already has affiliates.
        #[arg(long)]
        force: bool,
    },
    /// Write a consistent copy of the SQLite database to FILE while the server runs
    /// (`VACUUM INTO`); an existing FILE is never overwritten. On PostgreSQL, explains
    /// pg_dump instead.
    Backup {
        /// The backup file to create.
        file: std::path::PathBuf,
    },
    /// Replace the SQLite database with a backup made by `affilia backup` (stop every
    /// server first). The backup must be an Affilia database at a migration this version
    /// knows; it is migrated to the current schema. A database holding vendors is
    /// replaced only with --force, and is renamed aside, never deleted.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
        /// Replace a database that holds data (it is kept as `<db>.before-restore-<ms>`).
        #[arg(long)]
        force: bool,
    },
    /// Export everything one vendor owns (programs, affiliates, clicks, money, ledger,
    /// payouts, branding, webhook endpoints without their secrets; never API keys) to a
    /// versioned JSON-lines FILE, to import elsewhere. Consistent while the server runs.
    Export {
        /// The file to create (an existing file is refused).
        file: std::path::PathBuf,
        /// Vendor id or slug.
        #[arg(long)]
        vendor: String,
    },
    /// Import a vendor exported by `affilia export` into this database, in one
    /// transaction, keeping its ids. Refused (and nothing written) if the vendor's id or
    /// slug exists here, or the file is not a valid export of a known version.
    ///
    /// `affilia import rewardful|firstpromoter|tolt|partnerstack AFFILIATES.csv --vendor
    /// SLUG [--referrals FILE] [--commissions FILE] [--program ID] [--dry-run]` imports
    /// another tool's CSV exports instead: affiliates with their referral codes, referred
    /// customers, and commission history as opening balances. Running it twice changes
    /// nothing; --dry-run writes nothing and prints what would happen.
    Import {
        /// The export file, or the tool to import from (rewardful, firstpromoter, tolt,
        /// partnerstack) followed by its affiliates CSV.
        source: String,
        /// With a tool: its affiliates CSV export.
        file: Option<std::path::PathBuf>,
        /// With a tool: the vendor (id or slug) to import into.
        #[arg(long)]
        vendor: Option<String>,
        /// With a tool: the program to enroll the affiliates in (default: the vendor's
        /// default program).
        #[arg(long)]
        program: Option<String>,
        /// With a tool: its referrals (customers) CSV export.
        #[arg(long)]
        referrals: Option<std::path::PathBuf>,
        /// With a tool: its commissions CSV export (history becomes opening balances).
        #[arg(long)]
        commissions: Option<std::path::PathBuf>,
        /// With a tool: report what would happen and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RollupsCommand {
    /// Recompute the click rollups (per program and hour, per affiliate and day) from the
    /// click log, the ledger line counts from the journal, the money rollups (per program,
    /// day, status and currency; per affiliate all time) from the conversions and
    /// commissions and the referral rollup (per program and day) from the referrals, then
    /// refresh the query planner's statistics.
    Rebuild,
}

#[derive(Debug, Subcommand)]
enum LedgerCommand {
    /// Check every ledger invariant (balanced transactions, balances equal to the
    /// commissions they come from, ...); exits non-zero and lists each violation if any.
    Verify,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a vendor with its owner and a default program (20 % of each payment).
    CreateVendor {
        /// Vendor (company or product) name.
        #[arg(long)]
        name: String,
        /// The owner's sign-in email.
        #[arg(long)]
        owner_email: String,
        /// The owner's password (at least 10 characters).
        #[arg(long, env = "AFFILIA_OWNER_PASSWORD", hide_env_values = true)]
        owner_password: String,
        /// ISO 4217 currency of the default program.
        #[arg(long, default_value = "USD")]
        currency: String,
    },
    /// Create an API key for a vendor and print it (it is shown only this once).
    CreateApiKey {
        /// Vendor id or slug.
        #[arg(long)]
        vendor: String,
        /// A label to recognise the key by.
        #[arg(long)]
        name: String,
        /// What the key may do: full, write, read or publishable.
        #[arg(long, default_value = "full")]
        scope: String,
    },
    /// List a vendor's API keys (prefix, name, scope, created, last used, revoked).
    ListApiKeys {
        /// Vendor id or slug.
        #[arg(long)]
        vendor: String,
    },
    /// Revoke an API key: it is refused from the next request on, on every instance.
    RevokeApiKey {
        /// Vendor id or slug.
        #[arg(long)]
        vendor: String,
        /// The key's id (`key_...`, see list-api-keys).
        #[arg(long)]
        id: String,
    },
    /// Register a kernel consumer (an embedded integration signing HS256 JWTs) for a vendor
    /// and print its secret (it is shown only this once).
    CreateConsumer {
        /// Vendor id or slug.
        #[arg(long)]
        vendor: String,
        /// The consumer's name: the JWT `iss`, unique across the installation.
        #[arg(long)]
        name: String,
        /// Label stamped on the affiliates it provisions (default: the name).
        #[arg(long)]
        external_source: Option<String>,
    },
    /// Set a new password for a staff account.
    ResetPassword {
        /// The account's email.
        #[arg(long)]
        email: String,
        /// The new password (at least 10 characters).
        #[arg(long, env = "AFFILIA_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Fill a vendor's default program with a generated year of activity for benchmarks:
    /// affiliates in mixed states, clicks over 12 months, referred customers, conversions
    /// (refunds and rejections included), commissions, monthly payouts and their balanced
    /// ledger lines, written straight into the database. The vendor must have no
    /// affiliates yet. Deterministic for a given --seed and --now-ms.
    LoadDataset {
        /// Vendor id or slug (create it with create-vendor first).
        #[arg(long)]
        vendor: String,
        /// Affiliates to create.
        #[arg(long, default_value_t = 100_000)]
        affiliates: u64,
        /// Clicks over the year.
        #[arg(long, default_value_t = 10_000_000)]
        clicks: u64,
        /// Conversions over the year.
        #[arg(long, default_value_t = 1_000_000)]
        conversions: u64,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 19)]
        seed: u64,
        /// End of the generated year, unix milliseconds (default: now).
        #[arg(long)]
        now_ms: Option<i64>,
        /// Print the report as JSON (ids of the busiest and a typical affiliate, rows per
        /// table, timings) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add a host name to a vendor's portal domains. It is pending (it serves nothing)
    /// until its TXT record is verified, unless `--verified` vouches for it now.
    AddDomain {
        /// Vendor id or slug.
        #[arg(long)]
        vendor: String,
        /// Host name, e.g. affiliates.example.com (point its DNS at this server).
        #[arg(long)]
        host: String,
        /// Serve the portal on it at once, without the TXT-record check (you know the
        /// vendor controls the domain).
        #[arg(long)]
        verified: bool,
    },
    /// Mark a pending portal domain verified without the TXT-record check (operators who
    /// know the vendor controls the domain).
    VerifyDomain {
        /// Host name, e.g. affiliates.example.com.
        host: String,
        /// Vendor id or slug; needed only when several vendors claim the host.
        #[arg(long)]
        vendor: Option<String>,
    },
}

/// Parses the command line and runs the subcommand. Bad arguments exit with status 2
/// (clap), failures with status 1 and a one-line message on stderr.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
    };
    telemetry::init(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(execute(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn execute(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { no_worker } => serve(settings, !no_worker).await,
        Command::Worker => worker(settings).await,
        Command::Migrate => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Ledger(LedgerCommand::Verify) => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let violations = verify_ledger(&db).await;
            db.close().await;
            let violations = violations?;
            if violations.is_empty() {
                println!("ledger OK: every invariant holds");
                Ok(())
            } else {
                for v in &violations {
                    println!("vendor {}: {}", v.vendor_id, v.message);
                }
                anyhow::bail!("{} ledger invariant violation(s)", violations.len())
            }
        }
        Command::Rollups(RollupsCommand::Rebuild) => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let result = rebuild_rollups(&db).await;
            let analyzed = db.analyze().await;
            db.close().await;
            let vendors = result?;
            analyzed?;
            println!(
                "click rollups, ledger line counts and money rollups rebuilt for {vendors} vendor(s)"
            );
            Ok(())
        }
        Command::Demo {
            vendor,
            scale,
            seed,
            force,
        } => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let spec = crate::demo::Spec {
                scale,
                seed,
                force,
                now_ms: crate::db::now_ms(),
            };
            let report = crate::demo::run(&db, &settings, &vendor, &spec).await;
            db.close().await;
            let report = report?;
            println!("demo program ready for vendor {}", report.slug);
            for line in crate::demo::describe(&report.census, &report.currency) {
                println!("{line}");
            }
            Ok(())
        }
        Command::Backup { file } => {
            let db = Db::connect(&settings.database_url).await?;
            let result = crate::backup::backup(&db, &file).await;
            db.close().await;
            let bytes = result?;
            println!("backup written to {} ({bytes} bytes)", file.display());
            Ok(())
        }
        Command::Restore { file, force } => {
            let restored = crate::backup::restore(&settings.database_url, &file, force).await?;
            println!(
                "restored {} (schema migration {}, migrated to {})",
                file.display(),
                restored.migration,
                Db::latest_migration()
            );
            if let Some(aside) = restored.kept_aside {
                println!("the previous database was kept as {}", aside.display());
            }
            Ok(())
        }
        Command::Export { file, vendor } => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let result = crate::portability::export_vendor(&db, &vendor, &file).await;
            db.close().await;
            let census = result?;
            let rows: u64 = census.iter().map(|(_, n)| n).sum();
            println!("exported {rows} rows to {}", file.display());
            for (table, n) in census.iter().filter(|(_, n)| *n > 0) {
                println!("  {table}: {n}");
            }
            Ok(())
        }
        Command::Import {
            source,
            file,
            vendor,
            program,
            referrals,
            commissions,
            dry_run,
        } => {
            if let Some(provider) = crate::importers::Provider::parse(&source) {
                let tool = ToolImport {
                    provider,
                    file,
                    vendor,
                    program,
                    referrals,
                    commissions,
                    dry_run,
                };
                return import_tool(&settings, tool).await;
            }
            let tool_options = [
                file.is_some(),
                vendor.is_some(),
                program.is_some(),
                referrals.is_some(),
                commissions.is_some(),
                dry_run,
            ];
            if tool_options.into_iter().any(|given| given) {
                anyhow::bail!(
                    "{source:?} is not a tool to import from (rewardful, firstpromoter, tolt, \
                     partnerstack); a vendor export is imported with `affilia import FILE` alone"
                );
            }
            let file = std::path::PathBuf::from(source);
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let result = crate::portability::import_file(&db, &file).await;
            db.close().await;
            let imported = result?;
            println!(
                "imported vendor {} ({}): {} rows",
                imported.slug, imported.vendor_id, imported.rows
            );
            if imported.endpoints_disabled > 0 {
                println!(
                    "{} webhook endpoint(s) were given a new signing secret and disabled: \
                     rotate the secret in the dashboard, update your receiver, then enable them",
                    imported.endpoints_disabled
                );
            }
            println!(
                "set the programs' Stripe secrets again, create new API keys, and re-register \
                 kernel consumers: credentials are never exported"
            );
            Ok(())
        }
        Command::Admin(cmd) => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let result = admin(cmd, &db, &settings).await;
            db.close().await;
            result
        }
    }
}

/// The arguments of `affilia import <tool> ...`.
struct ToolImport {
    provider: crate::importers::Provider,
    file: Option<std::path::PathBuf>,
    vendor: Option<String>,
    program: Option<String>,
    referrals: Option<std::path::PathBuf>,
    commissions: Option<std::path::PathBuf>,
    dry_run: bool,
}

/// `affilia import <tool> FILE --vendor SLUG ...`: prints the report; refused rows do not
/// fail the command (they are listed with their reasons).
async fn import_tool(settings: &Settings, t: ToolImport) -> anyhow::Result<()> {
    let tool = t.provider.as_str();
    let file = t.file.with_context(|| {
        format!("give the affiliates CSV: affilia import {tool} FILE --vendor SLUG")
    })?;
    let vendor = t
        .vendor
        .with_context(|| format!("give the vendor: affilia import {tool} FILE --vendor SLUG"))?;
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let files = crate::importers::Files {
        affiliates: read(&file)?,
        referrals: t.referrals.as_deref().map(read).transpose()?,
        commissions: t.commissions.as_deref().map(read).transpose()?,
    };
    let db = Db::connect(&settings.database_url).await?;
    db.migrate().await?;
    let result = async {
        let vendor = vendors::find(&db, &vendor)
            .await
            .context("no such vendor")?;
        let opts = crate::importers::Options {
            provider: t.provider,
            program_id: t.program.as_deref(),
            dry_run: t.dry_run,
            progress: true,
            actor: &Actor::Cli,
        };
        Ok::<_, anyhow::Error>(crate::importers::run(&db, &vendor.id, &opts, &files).await?)
    }
    .await;
    db.close().await;
    for line in result?.describe() {
        println!("{line}");
    }
    Ok(())
}

/// `ledger verify` over every vendor, one progress step per vendor.
async fn verify_ledger(db: &Db) -> anyhow::Result<Vec<crate::domain::earnings::ledger::Violation>> {
    let vendors = crate::db::vendors::all_ids(db.pool()).await?;
    let mut progress = Progress::start("ledger verify", "vendors", vendors.len() as u64);
    let mut out = Vec::new();
    for vendor in &vendors {
        out.extend(crate::domain::earnings::ledger::verify_vendor(db, vendor).await?);
        progress.advance(1);
    }
    progress.finish();
    Ok(out)
}

/// `rollups rebuild` over every vendor, one progress step per vendor.
async fn rebuild_rollups(db: &Db) -> anyhow::Result<usize> {
    let vendors = crate::db::vendors::all_ids(db.pool()).await?;
    let mut progress = Progress::start("rollups rebuild", "vendors", vendors.len() as u64);
    for vendor in &vendors {
        crate::domain::attribution::clicks::rebuild_rollups_of(db, vendor).await?;
        crate::domain::earnings::ledger::recount_lines_of(db, vendor).await?;
        progress.advance(1);
    }
    progress.finish();
    Ok(vendors.len())
}

async fn serve(settings: Settings, with_worker: bool) -> anyhow::Result<()> {
    let base_url = settings.base_url.clone();
    let db_url = crate::db::redact_url(&settings.database_url);
    let mailer = Mailer::from_url(settings.smtp_url.as_ref().map(|s| s.expose().as_str()))?;
    let worker_settings = settings.clone();
    let app = Application::build(settings).await?;
    let (stop, stopped) = watch::channel(false);
    let worker = with_worker.then(|| {
        tokio::spawn(
            Worker::new(app.state().db.clone(), mailer)
                .with_settings(&worker_settings)
                .run(stopped),
        )
    });
    tracing::info!(port = app.port(), database = %db_url, "Affilia is listening; open {base_url} in a browser");
    let served = app.run_until_stopped().await;
    // The HTTP server has drained; let the job in flight finish, then stop.
    let _ = stop.send(true);
    if let Some(worker) = worker
        && tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .is_err()
    {
        tracing::warn!("job worker did not stop within 30 s; its leases will expire");
    }
    served.context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

async fn worker(settings: Settings) -> anyhow::Result<()> {
    let mailer = Mailer::from_url(settings.smtp_url.as_ref().map(|s| s.expose().as_str()))?;
    let db = Db::connect(&settings.database_url).await?;
    db.migrate().await?;
    // A worker has no main listener: `--metrics-bind` is its only way to show metrics (email
    // and webhook outcomes, queues, its pool); a token alone changes nothing here.
    let metrics = match &settings.metrics_bind {
        Some(addr) => {
            crate::monitoring::install();
            let listener = std::net::TcpListener::bind(addr)
                .with_context(|| format!("cannot listen on {addr} (metrics)"))?;
            let source = crate::http::metrics::Source {
                db: db.clone(),
                clicks: None,
            };
            let server = crate::http::metrics::metrics_server(listener, source)?;
            let handle = server.handle();
            tokio::spawn(server);
            tracing::info!(address = %addr, "serving /metrics");
            Some(handle)
        }
        None => None,
    };
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(
        Worker::new(db.clone(), mailer)
            .with_settings(&settings)
            .run(stopped),
    );
    shutdown_signal().await;
    tracing::info!("stopping: finishing the job in flight");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    if let Some(handle) = metrics {
        handle.stop(true).await;
    }
    db.close().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn admin(cmd: AdminCommand, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateVendor {
            name,
            owner_email,
            owner_password,
            currency,
        } => {
            let input = onboarding::NewVendor {
                name,
                owner_email,
                owner_password,
                currency,
            };
            let created = onboarding::create(db, input, onboarding::Origin::Cli).await?;
            println!("vendor_id: {}", created.vendor.id);
            println!("slug: {}", created.vendor.slug);
            println!("owner_id: {}", created.owner.id);
            println!("program_id: {}", created.program_id);
        }
        AdminCommand::CreateApiKey {
            vendor,
            name,
            scope,
        } => {
            let scope = Scope::parse(&scope)?;
            let vendor = vendors::find(db, &vendor).await.context("no such vendor")?;
            let key = api_keys::create(db, &vendor.id, &name, scope, &Actor::Cli).await?;
            eprintln!(
                "API key {} for {} ({} scope); it is shown only once:",
                key.id,
                vendor.slug,
                scope.as_str()
            );
            println!("{}", key.key);
        }
        AdminCommand::ListApiKeys { vendor } => {
            let vendor = vendors::find(db, &vendor).await.context("no such vendor")?;
            let (keys, _) = api_keys::list(db, &vendor.id, i64::MAX, 0).await?;
            println!("id\tprefix\tscope\tname\tcreated_at\tlast_used_at\trevoked_at");
            for k in keys {
                let or_dash = |t: Option<String>| t.unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.prefix,
                    k.scope,
                    k.name,
                    k.created_at,
                    or_dash(k.last_used_at),
                    or_dash(k.revoked_at)
                );
            }
        }
        AdminCommand::RevokeApiKey { vendor, id } => {
            let vendor = vendors::find(db, &vendor).await.context("no such vendor")?;
            let key = api_keys::revoke(db, &vendor.id, &id, &Actor::Cli)
                .await
                .with_context(|| format!("no API key {id} for {}", vendor.slug))?;
            println!("revoked {} ({}, {})", key.id, key.prefix, key.name);
        }
        AdminCommand::CreateConsumer {
            vendor,
            name,
            external_source,
        } => {
            let vendor = vendors::find(db, &vendor).await.context("no such vendor")?;
            let secrets = consumers::ConsumerSecrets::new(settings.secret_key.expose());
            let input = consumers::NewConsumerInput {
                name,
                external_source,
                ..consumers::NewConsumerInput::default()
            };
            let created = consumers::create(db, &secrets, &vendor.id, &input, &Actor::Cli).await?;
            eprintln!(
                "consumer {} ({}) for {}, external source {}; sign HS256 JWTs with iss={} \
                 and aud={}. Its secret is shown only once:",
                created.consumer.id,
                created.consumer.name,
                vendor.slug,
                created.consumer.external_source,
                created.consumer.name,
                consumers::AUDIENCE,
            );
            println!("{}", created.secret);
        }
        AdminCommand::ResetPassword { email, password } => {
            let user = staff::reset_password(db, &email, &password).await?;
            println!("password updated for {}", user.email);
        }
        AdminCommand::LoadDataset {
            vendor,
            affiliates,
            clicks,
            conversions,
            seed,
            now_ms,
            json,
        } => {
            let spec = crate::dataset::Spec {
                affiliates,
                clicks,
                conversions,
                seed,
                now_ms: now_ms.unwrap_or_else(crate::db::now_ms),
            };
            let report = crate::dataset::load(db, &vendor, &spec).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for (table, n) in &report.rows {
                    println!("{table}: {n}");
                }
                println!("payable affiliates: {}", report.payable_affiliates);
                println!(
                    "busiest affiliate: {} ({})",
                    report.busiest_affiliate_id, report.busiest_affiliate_email
                );
                println!(
                    "typical affiliate: {} ({})",
                    report.typical_affiliate_id, report.typical_affiliate_email
                );
                println!(
                    "loaded in {:.1} s, statistics refreshed in {:.1} s",
                    report.load_seconds, report.analyze_seconds
                );
            }
        }
        AdminCommand::AddDomain {
            vendor,
            host,
            verified,
        } => {
            let vendor = vendors::find(db, &vendor).await.context("no such vendor")?;
            let host = vendors::add_portal_domain(
                db,
                &settings.dashboard_hosts,
                &vendor.id,
                &host,
                verified,
                &Actor::Cli,
            )
            .await?;
            if verified {
                println!("portal of {} now also served on {host}", vendor.slug);
            } else {
                let token = crate::db::vendors::domain_row(db.pool(), &vendor.id, &host)
                    .await?
                    .and_then(|d| d.verification_token)
                    .unwrap_or_default();
                let record = domain_verification::record(&host, &token);
                println!(
                    "{host} added to the portal of {} and pending: create the TXT record {} \
                     with the value {}, then verify it (or run `affilia admin verify-domain \
                     {host}`)",
                    vendor.slug, record.name, record.value
                );
            }
        }
        AdminCommand::VerifyDomain { host, vendor } => {
            let vendor = match vendor {
                Some(v) => Some(vendors::find(db, &v).await.context("no such vendor")?.id),
                None => None,
            };
            let owner = domain_verification::verify_by_operator(db, vendor.as_deref(), &host)
                .await
                .map_err(|e| match e {
                    crate::error::AppError::NotFound => {
                        anyhow::anyhow!("no vendor lists {host} as a portal domain")
                    }
                    other => other.into(),
                })?;
            let slug = crate::db::vendors::by_id(db.pool(), &owner)
                .await?
                .map_or(owner, |v| v.slug);
            println!("{host} verified: it now serves the portal of {slug}");
        }
    }
    Ok(())
}

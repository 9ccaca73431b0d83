//! `aimdbd generate --out DIR` (hidden): the man pages and shell completions, generated from the
//! clap definition (`cli::Cli`, handed in as `cli`), for the Debian package (`[package.metadata.deb]` in Cargo.toml
//! packages `target/generated/`) or a source install.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap::{Args, Command};
use clap_complete::Shell;

use crate::exit;

#[derive(Debug, Args)]
pub(super) struct GenerateArgs {
    /// Output directory (created if missing): `man/` gets `aimdbd.1` and a page per command,
    /// `completions/` gets `aimdbd.bash`, `_aimdbd` (zsh) and `aimdbd.fish`.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Writes the files of command `cli`, prints their paths; exit 0, or 1 with the failing path
/// on an I/O error.
pub(super) fn generate(args: &GenerateArgs, cli: &Command) -> u8 {
    match write_all(&args.out, cli) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("aimdbd generate: {e}");
            exit::RUNTIME
        }
    }
}

/// The command as users see it: without hidden commands (`generate` itself), which the
/// completion generators would otherwise offer. clap cannot remove a subcommand, so this
/// rebuilds the top level from `cli`'s parts (its examples go to the man page's EXAMPLES).
fn visible_command(cli: &Command) -> Command {
    let mut cmd = Command::new("aimdbd")
        .version(env!("CARGO_PKG_VERSION"))
        .args(cli.get_arguments().cloned())
        .subcommands(cli.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cli.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd
}

/// `what` failed with `e`: the error says both (`creating DIR: No such file or directory`).
fn context(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn write_all(out: &Path, cli: &Command) -> io::Result<Vec<PathBuf>> {
    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    for dir in [&man_dir, &completions_dir] {
        fs::create_dir_all(dir).map_err(context(format!("creating {}", dir.display())))?;
    }
    // A page per command (`aimdbd-check.1`, ...), then `aimdbd.1` again with its own sections.
    clap_mangen::generate_to(visible_command(cli), &man_dir).map_err(context(format!(
        "writing man pages into {}",
        man_dir.display()
    )))?;
    let main_page = man_dir.join("aimdbd.1");
    fs::write(&main_page, main_page_roff(cli)?)
        .map_err(context(format!("writing {}", main_page.display())))?;
    let mut files = sorted_entries(&man_dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = visible_command(cli);
        let path = clap_complete::generate_to(shell, &mut cmd, "aimdbd", &completions_dir)
            .map_err(context(format!(
                "writing the {shell} completions into {}",
                completions_dir.display()
            )))?;
        files.push(path);
    }
    Ok(files)
}

/// `aimdbd.1`: clap_mangen's page, with `Cli`'s examples unfilled (clap_mangen would reflow
/// them), and FILES and SEE ALSO for the packaged layout, before its VERSION section.
fn main_page_roff(cli: &Command) -> io::Result<String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(visible_command(cli).disable_help_subcommand(true)).render(&mut page)?;
    let page = String::from_utf8(page).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("clap_mangen wrote UTF-8: {e}"),
        )
    })?;
    let mut extra = String::new();
    if let Some(after) = cli.get_after_help() {
        let text = after.to_string();
        let text = text.strip_prefix("Examples:\n").unwrap_or(&text);
        extra.push_str(".SH EXAMPLES\n.nf\n");
        for line in text.lines() {
            extra.push_str(&roff_line(line));
        }
        extra.push_str(".fi\n");
    }
    extra.push_str(concat!(
        ".SH FILES\n",
        ".TP\n/etc/aimdbd/aimdbd.toml\n",
        "The config aimdbd.service runs (a conffile; its keys: CONFIG.md).\n",
        ".TP\n/var/lib/aimdbd\n",
        "State: the history store and the disk outbox ($STATE_DIRECTORY of aimdbd.service).\n",
        ".TP\n/usr/share/doc/aimdbd/\n",
        "README.md, OPERATIONS.md (install, upgrade, signals, logs, metrics), CONFIG.md, ...\n",
        ".SH SEE ALSO\n",
        "systemctl(1), journalctl(1)\n",
    ));
    Ok(match page.find(".SH VERSION") {
        Some(at) => format!("{}{extra}{}", &page[..at], &page[at..]),
        None => page + &extra,
    })
}

/// One line of unfilled roff text, taken literally: `\&` keeps a leading `.` or `'` from being
/// a request; backslashes, hyphens and quotes are escaped so that examples copy as typed.
fn roff_line(line: &str) -> String {
    let escaped = line
        .replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\'', "\\(aq");
    format!("\\&{escaped}\n")
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = fs::read_dir(dir)
        .and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(context(format!("listing {}", dir.display())))?;
    paths.sort();
    Ok(paths)
}

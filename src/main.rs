//! `aimdbd`: parses arguments and hands over to the library (`aimdbd::cli`).

fn main() -> std::process::ExitCode {
    aimdbd::cli::main()
}

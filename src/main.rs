use clap::Parser;

fn main() -> std::process::ExitCode {
    match omalizumab_cds::cli::run(omalizumab_cds::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("omalizumab-cds: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

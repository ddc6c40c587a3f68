use clap::Parser;

// Every hook builds and drops thousands of small JSON and FHIR nodes; glibc's malloc
// was a fifth of the instructions per hook (docs/PERFORMANCE.md, Profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match omalizumab_cds::cli::run(omalizumab_cds::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("omalizumab-cds: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

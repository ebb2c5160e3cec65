use std::process::ExitCode;

use clap::Parser;
use tikv_bench::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tikv-bench: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::main(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tikv-bench: {err:#}");
            cli::exit_code(&err)
        }
    }
}

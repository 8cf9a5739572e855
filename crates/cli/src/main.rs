//! `weft`: the command line of Weft.

mod args;
mod commands;
mod config;
mod exit;
mod output;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e.downcast_ref::<Exit>().map(|x| x.code).unwrap_or(exit::FAILURE);
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let target = commands::Target::from_cli(&cli);
    match cli.command {
        Command::Apply(a) => commands::apply::run(target?, a).await,
        Command::Get(a) => commands::get::run(target?, a).await,
        Command::Delete(a) => commands::delete::run(target?, a).await,
        Command::Version(a) => commands::version::run(target, a).await,
        Command::Config(c) => commands::config::run(&cli.context, c),
        Command::Ipam(c) => commands::ipam::run(target?, c).await,
        Command::Bgp(c) => commands::bgp::run(target?, c).await,
        Command::Explain(a) => commands::explain::run(target?, a).await,
        Command::Controller(a) => commands::controller::run(a).await,
        Command::Agent(a) => commands::agent::run(a).await,
        Command::Lab(a) => commands::lab::run(a).await,
        Command::Crds => {
            print!("{}", weft_api::crd::to_yaml());
            Ok(exit::OK)
        }
    }
}

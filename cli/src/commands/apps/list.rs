//! `functl apps list`.

use clap::Args;
use comfy_table::Cell;

use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::output::{QuietArg, format, json, print_ids, table};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(flatten)]
    quiet: QuietArg,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<Exit> {
        let apps = ctx.admin()?.apps().await?;
        if self.quiet.quiet {
            print_ids(apps.iter().map(|a| &a.app_id))?;
            return Ok(Exit::Success);
        }
        if ctx.json() {
            json::print(&apps)?;
            return Ok(Exit::Success);
        }
        let mut t = table::new(
            &[
                "APP", "USER", "STATUS", "NODE", "IMAGE", "COMMIT", "URL", "UPDATED",
            ],
            ctx.styled,
        );
        for a in &apps {
            t.add_row(vec![
                Cell::new(&a.app_id),
                Cell::new(format::or_dash(a.user_id.as_deref())),
                table::colored(a.status, super::status_color(a.status), ctx.styled),
                Cell::new(format::or_dash(a.node_name.as_deref())),
                Cell::new(format::or_dash(a.image.as_deref())),
                Cell::new(format::or_dash(
                    a.commit_sha.as_deref().map(format::short_commit).as_deref(),
                )),
                Cell::new(format::or_dash(a.deploy_url.as_deref())),
                Cell::new(format::timestamp(&a.updated_at)),
            ]);
        }
        table::print(&t)?;
        Ok(Exit::Success)
    }
}

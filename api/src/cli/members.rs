//! `relais members add`: grant a membership from the command line, as an administrator would
//! through `POST /api/v1/members`. It bootstraps a memberships deployment, whose first
//! administrator nobody could otherwise grant.

use relais_domain::access::Principal;
use relais_domain::ids::{PartnerId, PostId, UnitId};
use relais_domain::member::NewMember;
use relais_domain::reference::Role;
use relais_persistence::Database;

use crate::auth::JwtSettings;
use crate::clock::{Clock, SystemClock};
use crate::workflows;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum MembersCommand {
    /// Grant a membership to an identity (--subject, and --issuer unless it is
    /// RELAIS_JWT_ISSUER), or invite an e-mail (--email); prints the membership as JSON.
    Add {
        /// The name the post sees in its histories.
        #[arg(long)]
        display_name: String,
        /// social_worker, coordinator, officer, partner, statistics or admin.
        #[arg(long)]
        role: Role,
        /// A post of a social worker (one) or a coordinator (repeat).
        #[arg(long = "post")]
        posts: Vec<PostId>,
        /// The unit of an officer.
        #[arg(long)]
        unit: Option<UnitId>,
        /// The partner of a partner's member.
        #[arg(long)]
        partner: Option<PartnerId>,
        /// The `iss` of the identity's tokens (default: RELAIS_JWT_ISSUER).
        #[arg(long, requires = "subject")]
        issuer: Option<String>,
        /// The `sub` of the identity's tokens.
        #[arg(long)]
        subject: Option<String>,
        /// Invite by e-mail: the first login carrying it binds its identity.
        #[arg(long)]
        email: Option<String>,
    },
}

/// Runs `relais members …`.
pub fn command(db: &Database, jwt: &JwtSettings, command: MembersCommand) -> Result<(), String> {
    let MembersCommand::Add {
        display_name,
        role,
        posts,
        unit,
        partner,
        issuer,
        subject,
        email,
    } = command;
    let input = NewMember {
        display_name,
        role,
        post_ids: posts,
        unit_id: unit,
        partner_id: partner,
        issuer: subject
            .as_ref()
            .map(|_| issuer.unwrap_or_else(|| jwt.issuer.clone())),
        subject,
        email,
        client_id: None,
    };
    let by = Principal::system("members-add");
    let now = SystemClock.now();
    let member = db
        .write(|conn| workflows::members::grant(conn, &by, &input, now))
        .map_err(|e| refusal(&crate::http::problem::ApiError::from(e)))?;
    let json = serde_json::to_string_pretty(&member).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

/// The problem as one line per field at fault, for the terminal.
fn refusal(error: &crate::http::problem::ApiError) -> String {
    let problem = error.problem();
    let mut lines = vec![problem.detail];
    lines.extend(
        problem
            .errors
            .iter()
            .map(|e| format!("  {}: {}", flag_of(&e.field), e.message)),
    );
    lines.join("\n")
}

/// The option that sets `field`.
fn flag_of(field: &str) -> String {
    match field {
        "post_ids" => "--post".to_owned(),
        "unit_id" => "--unit".to_owned(),
        "partner_id" => "--partner".to_owned(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

//! Recipient routing: which local user, if any, an envelope recipient names.
//!
//! A recipient in a local domain maps to the user named by its local part,
//! lowercased, with any subaddress after the delimiter removed
//! (`Alice+lists@localhost` goes to `alice`). Every other domain is remote.
//! [`route`] denies remote recipients, so there is no open relay, and
//! [`route_recipient`] accepts them only when the caller says that this
//! client may relay (an authenticated submission client, or a client in
//! `smtp.relay_networks`).

use ringmail_protocols::smtp::{ForwardPath, Mailbox};

use crate::config::Config;
use crate::envelope::Destination;
use crate::users::UserDb;

/// Reason a recipient was not accepted.
#[derive(Debug)]
pub enum RouteError {
    /// The domain is local but no such user exists (550 5.1.1).
    UnknownUser,
    /// The domain is not local and the client may not relay (554 5.7.1).
    RelayDenied,
    /// The user database could not be read (451 4.3.0).
    Temporary(String),
}

/// Returns the local user that `recipient` is delivered to.
pub fn route(
    config: &Config,
    users: &UserDb,
    recipient: &ForwardPath<'_>,
) -> Result<String, RouteError> {
    let name = match recipient {
        ForwardPath::Postmaster => "postmaster".to_string(),
        ForwardPath::Mailbox(mailbox) => {
            if !config.is_local_domain(mailbox.domain) {
                return Err(RouteError::RelayDenied);
            }
            local_user_name(config, mailbox).ok_or(RouteError::UnknownUser)?
        }
    };

    match users.exists(&name) {
        Ok(true) => Ok(name),
        Ok(false) => Err(RouteError::UnknownUser),
        Err(error) => Err(RouteError::Temporary(error.to_string())),
    }
}

/// Whether the client may send to non-local domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// Remote recipients are rejected with [`RouteError::RelayDenied`].
    Denied,
    /// Remote recipients are accepted as [`Destination::Remote`]; the
    /// session decides this, for example after AUTH.
    Permitted,
}

/// Returns where `recipient` goes: a local user, or another server when
/// `relay` permits it.
pub fn route_recipient(
    config: &Config,
    users: &UserDb,
    recipient: &ForwardPath<'_>,
    relay: Relay,
) -> Result<Destination, RouteError> {
    if let ForwardPath::Mailbox(mailbox) = recipient {
        if relay == Relay::Permitted && !config.is_local_domain(mailbox.domain) {
            return Ok(Destination::Remote);
        }
    }
    route(config, users, recipient).map(|user| Destination::Local { user })
}

/// Returns the user name that a local mailbox's local part names, or `None`
/// when it cannot be a user name.
pub(crate) fn local_user_name(config: &Config, mailbox: &Mailbox<'_>) -> Option<String> {
    let mut local = mailbox.local_part;

    // A quoted local part names the same mailbox as its unquoted form when the
    // content needs no quoting; anything else cannot be a user name.
    if let Some(inner) = local
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        local = inner;
    }

    let delimiter = &config.delivery.recipient_delimiter;
    if !delimiter.is_empty() {
        if let Some(position) = local.find(delimiter.as_str()) {
            local = &local[..position];
        }
    }

    let name = local.to_ascii_lowercase();
    crate::users::validate_name(&name).ok()?;
    Some(name)
}

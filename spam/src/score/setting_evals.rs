//! The eval tests that read the rule set's own settings as well as the
//! message. FreeMail ([`super::freemail`]) reads `freemail_domains`.
//! `check_mailfrom_matches_rcvd` ([`super::registry`]) reads `util_rb_2tld`
//! and `util_rb_3tld`. The list tests ([`super::lists`]) read
//! `enlist_addrlist`, `enlist_uri_host` and the welcomelists.
//! [`SettingEvals`] is built once from the model. The scorer and `ringmail
//! spam rules` both call it, so they agree on what is computed.

use super::freemail::{self, FreeMail};
use super::lists::{self, Lists};
use super::registry::{self, RegistryBoundaries};
use crate::prepare::Prepared;
use crate::rules::RuleModel;

/// The eval tests of one rule set that need its settings.
#[derive(Debug)]
pub struct SettingEvals {
    /// `None` when the rule set lists no freemail domain.
    freemail: Option<FreeMail>,
    registry: RegistryBoundaries,
    lists: Lists,
}

impl SettingEvals {
    /// Builds the tests from the model's settings.
    pub fn from_model(model: &RuleModel) -> SettingEvals {
        SettingEvals {
            freemail: FreeMail::from_model(model),
            registry: RegistryBoundaries::from_model(model),
            lists: Lists::from_model(model),
        }
    }

    /// Returns the names of every test this type handles.
    pub fn implemented() -> impl Iterator<Item = &'static str> {
        freemail::IMPLEMENTED
            .iter()
            .chain(registry::IMPLEMENTED)
            .chain(lists::IMPLEMENTED)
            .copied()
    }

    /// Returns whether `function` is one of [`SettingEvals::implemented`].
    pub fn handles(function: &str) -> bool {
        Self::implemented().any(|name| name == function)
    }

    /// Runs the test `function` with `args` on `message`. `None` means it
    /// is not one of these tests, or cannot be computed with these
    /// settings or arguments.
    pub fn evaluate(
        &self,
        function: &str,
        args: &[String],
        message: &Prepared<'_>,
    ) -> Option<bool> {
        if freemail::IMPLEMENTED.contains(&function) {
            // Without listed domains the plugin is off and its tests miss.
            return match &self.freemail {
                Some(lists) => lists.evaluate(function, args, message),
                None => Some(false),
            };
        }
        if registry::IMPLEMENTED.contains(&function) {
            return self.registry.evaluate(function, args, message);
        }
        self.lists.evaluate(function, args, message)
    }
}

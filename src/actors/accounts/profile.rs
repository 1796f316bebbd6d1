//! What an account shows of itself: its name, and the settings page's view of
//! its tokens and ways to sign in.

use super::{AccountOverview, AccountsError, DescribeAccount, Peers, RenameAccount};
use crate::actors::catalog::accounts::RenameUser;
use crate::actors::catalog::oauth::ListOAuthAccounts;
use crate::actors::catalog::sessions::ListApiTokens;
use crate::domain::DisplayName;

impl Peers {
    pub(super) async fn rename_account(self, msg: RenameAccount) -> Result<(), AccountsError> {
        let name =
            DisplayName::parse(&msg.name).map_err(|m| AccountsError::invalid("invalid_name", m))?;
        Self::ask(
            &self.catalog,
            RenameUser {
                request_id: msg.request_id,
                user_id: msg.user_id,
                name: name.into_inner(),
            },
        )
        .await?
        .ok_or(AccountsError::AccountGone)?;
        tracing::info!(user_id = %msg.user_id, "name changed");
        Ok(())
    }

    pub(super) async fn describe_account(
        self,
        msg: DescribeAccount,
    ) -> Result<AccountOverview, AccountsError> {
        let tokens = Self::ask(
            &self.catalog,
            ListApiTokens {
                request_id: msg.request_id.clone(),
                user_id: msg.user_id,
            },
        )
        .await?;
        let sign_in = Self::ask(
            &self.catalog,
            ListOAuthAccounts {
                request_id: msg.request_id,
                user_id: msg.user_id,
            },
        )
        .await?;
        Ok(AccountOverview { tokens, sign_in })
    }
}

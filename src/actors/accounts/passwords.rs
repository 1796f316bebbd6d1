//! Accounts with a password: registering, the operator's accounts, signing in
//! and changing the password.

use secrecy::{ExposeSecret, SecretString};

use super::{
    AccountsError, BrowserSession, ChangePassword, CreateAccount, OpenedSession, Peers, Register,
    RegisterBrowser, SignIn, SignInBrowser, SignedInAccount, new_link,
};
use crate::actors::catalog;
use crate::actors::catalog::User;
use crate::actors::catalog::accounts::{CreateUser, FindLoginCandidate};
use crate::actors::credentials::VerifyPassword;
use crate::actors::limiter::{AttemptSucceeded, Subject};
use crate::auth::link_token::LinkPurpose;
use crate::domain::{DisplayName, Email, Password};

/// A new account's address, name and password, checked against the rules
/// registration applies (the operator's accounts too).
struct NewAccount {
    email: Email,
    name: DisplayName,
    password: Password,
}

impl NewAccount {
    fn check(email: &str, name: &str, password: &SecretString) -> Result<Self, AccountsError> {
        let email = Email::parse(email).map_err(|m| AccountsError::invalid("invalid_email", m))?;
        let name =
            DisplayName::parse(name).map_err(|m| AccountsError::invalid("invalid_name", m))?;
        let password = Password::for_account(
            password.expose_secret().to_string(),
            email.as_str(),
            name.as_str(),
        )?;
        Ok(Self {
            email,
            name,
            password,
        })
    }
}

impl Peers {
    pub(super) async fn register(self, msg: Register) -> Result<User, AccountsError> {
        // A form refused as invalid does not count against the address.
        let account = NewAccount::check(&msg.email, &msg.name, &msg.password)?;
        self.reserve(vec![Subject::RegistrationsFrom(msg.client)])
            .await?;
        let password_hash = self.hash(&account.password).await?;
        let (token, verification) = new_link(LinkPurpose::VerifyEmail);
        let user = Self::ask(
            &self.catalog,
            CreateUser {
                request_id: msg.request_id.clone(),
                email: account.email.as_str().to_string(),
                name: account.name.into_inner(),
                password_hash,
                verification: Some(verification),
                is_admin: false,
            },
        )
        .await?;
        tracing::info!(user_id = %user.id, "account registered");
        self.mail_link(msg.request_id, &user, LinkPurpose::VerifyEmail, token)
            .await;
        Ok(user)
    }

    pub(super) async fn register_browser(
        self,
        msg: RegisterBrowser,
    ) -> Result<BrowserSession, AccountsError> {
        let request_id = msg.register.request_id.clone();
        let user = self.clone().register(msg.register).await?;
        let session = self.open_session(request_id, user.id, msg.session).await?;
        Ok(BrowserSession { user, session })
    }

    pub(super) async fn create_account(self, msg: CreateAccount) -> Result<User, AccountsError> {
        let account = NewAccount::check(&msg.email, &msg.name, &msg.password)?;
        let password_hash = self.hash(&account.password).await?;
        let user = Self::ask(
            &self.catalog,
            CreateUser {
                request_id: msg.request_id,
                email: account.email.as_str().to_string(),
                name: account.name.into_inner(),
                password_hash,
                // No link to follow: the operator vouches for the address.
                verification: None,
                is_admin: msg.is_admin,
            },
        )
        .await?;
        tracing::info!(user_id = %user.id, admin = msg.is_admin, "account created by the operator");
        Ok(user)
    }

    /// An unknown address costs a password check too, so both answers take as
    /// long. A disabled account is refused once its password is proven (so the
    /// refusal tells nothing to whoever does not know it).
    pub(super) async fn sign_in(self, msg: SignIn) -> Result<SignedInAccount, AccountsError> {
        let email = msg.email.trim().to_lowercase();
        let candidate = Self::ask(
            &self.catalog,
            FindLoginCandidate {
                request_id: msg.request_id.clone(),
                email: email.clone(),
            },
        )
        .await?;
        let stored_hash = candidate.as_ref().and_then(|c| c.password_hash.clone());
        let verified = self
            .check_password(&email, msg.client, stored_hash, msg.password)
            .await?;
        let Some(candidate) = candidate.filter(|_| verified) else {
            return Err(AccountsError::InvalidCredentials);
        };
        if candidate.user.is_disabled() {
            return Err(AccountsError::AccountDisabled);
        }
        tracing::info!(user_id = %candidate.user.id, "signed in");
        Ok(SignedInAccount {
            user: candidate.user,
            token_generation: candidate.token_generation,
        })
    }

    pub(super) async fn sign_in_browser(
        self,
        msg: SignInBrowser,
    ) -> Result<BrowserSession, AccountsError> {
        let request_id = msg.sign_in.request_id.clone();
        let SignedInAccount { user, .. } = self.clone().sign_in(msg.sign_in).await?;
        let session = self.open_session(request_id, user.id, msg.session).await?;
        Ok(BrowserSession { user, session })
    }

    /// Whether `password` matches `stored_hash` (`None`: no account, or one
    /// without a password; never a match, but it costs a check all the same),
    /// under the sign-in limits. The attempt is counted against the account at
    /// this client address and against the address before the hash runs, and
    /// refused while either must wait. A match forgets the account's count at
    /// this address and gives the address its attempt back.
    async fn check_password(
        &self,
        email: &str,
        client: String,
        stored_hash: Option<String>,
        password: SecretString,
    ) -> Result<bool, AccountsError> {
        let at_address = Subject::SignIn {
            email: email.to_string(),
            client: client.clone(),
        };
        let from_address = Subject::SignInsFrom(client);
        self.reserve(vec![at_address.clone(), from_address.clone()])
            .await?;
        let verified = self
            .credentials
            .send(VerifyPassword {
                password,
                stored_hash,
            })
            .await?;
        if verified {
            Self::ask(
                &self.limiter,
                AttemptSucceeded {
                    forget: vec![at_address],
                    refund: vec![from_address],
                },
            )
            .await?;
        }
        Ok(verified)
    }

    /// An account without a password (it signed up through a provider) sets
    /// its first one here. The browser that asked gets a new session; every
    /// other sign-in of the account ends.
    pub(super) async fn change_password(
        self,
        msg: ChangePassword,
    ) -> Result<OpenedSession, AccountsError> {
        let user = msg.user;
        let candidate = Self::ask(
            &self.catalog,
            FindLoginCandidate {
                request_id: msg.request_id.clone(),
                email: user.email.clone(),
            },
        )
        .await?
        .filter(|candidate| candidate.user.id == user.id)
        // A valid session for a deleted account proves nothing any more.
        .ok_or(AccountsError::AccountGone)?;
        if let Some(stored) = &candidate.password_hash {
            let verified = self
                .check_password(&user.email, msg.client, Some(stored.clone()), msg.current)
                .await?;
            if !verified {
                return Err(AccountsError::invalid(
                    "wrong_password",
                    "your current password is not correct",
                ));
            }
        }
        let password =
            Password::for_account(msg.new.expose_secret().to_string(), &user.email, &user.name)?;
        let password_hash = self.hash(&password).await?;
        let changed = Self::ask(
            &self.catalog,
            catalog::accounts::ChangePassword {
                request_id: msg.request_id.clone(),
                user_id: user.id,
                password_hash,
                replaces: candidate.password_hash,
            },
        )
        .await?;
        if !changed {
            return Err(AccountsError::PasswordChangedMeanwhile);
        }
        tracing::info!(user_id = %user.id, "password changed; earlier sign-ins ended");
        self.open_session(msg.request_id, user.id, msg.session)
            .await
    }
}

//! What the Accounts actor accepts: one message per use case, each with the
//! request id it logs under. Passwords arrive as [`SecretString`]s and leave
//! only as hashes; tokens and session ids leave only in the replies that
//! must show them once.

use actix::Message;
use secrecy::SecretString;
use uuid::Uuid;

use super::AccountsError;
use crate::actors::catalog::User;
use crate::actors::catalog::oauth::SignInMethods;
use crate::actors::catalog::sessions::ApiToken;
use crate::auth::oauth::Provider;
use crate::telemetry::RequestId;

/// A web session to open for a browser that signs in: what the Catalog keeps
/// about it. The id and its CSRF token are made by the Accounts actor.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    pub user_agent: Option<String>,
    /// The client address, as the session list shows it.
    pub ip: Option<String>,
    /// The hash of the session id the browser held, which the new one replaces.
    pub replaces: Option<String>,
}

/// A session just opened: its id goes into the cookie, once.
#[derive(Debug)]
pub struct OpenedSession {
    pub id: String,
}

/// An account whose password was just checked, with the generation an
/// access token (JWT) for it is issued under.
#[derive(Debug)]
pub struct SignedInAccount {
    pub user: User,
    pub token_generation: i32,
}

/// An account a browser is now signed in to, with its new session.
#[derive(Debug)]
pub struct BrowserSession {
    pub user: User,
    pub session: OpenedSession,
}

/// Registers an account and mails the link that verifies its address.
/// Limited per client address.
#[derive(Message)]
#[rtype(result = "Result<User, AccountsError>")]
pub struct Register {
    pub request_id: RequestId,
    /// The client address the limits count (see `domain::counted_as`).
    pub client: String,
    pub email: String,
    pub password: SecretString,
    pub name: String,
}

/// [`Register`] from a browser, which is then signed in with a new session.
#[derive(Message)]
#[rtype(result = "Result<BrowserSession, AccountsError>")]
pub struct RegisterBrowser {
    pub register: Register,
    pub session: SessionRequest,
}

/// Makes an account on the operator's word (`kiln user create`): its address
/// counts as verified, no mail is sent, no limit applies.
#[derive(Message)]
#[rtype(result = "Result<User, AccountsError>")]
pub struct CreateAccount {
    pub request_id: RequestId,
    pub email: String,
    pub password: SecretString,
    pub name: String,
    pub is_admin: bool,
}

/// Checks an e-mail and password under the sign-in limits.
#[derive(Message)]
#[rtype(result = "Result<SignedInAccount, AccountsError>")]
pub struct SignIn {
    pub request_id: RequestId,
    pub client: String,
    pub email: String,
    pub password: SecretString,
}

/// [`SignIn`] from a browser, which gets a new session.
#[derive(Message)]
#[rtype(result = "Result<BrowserSession, AccountsError>")]
pub struct SignInBrowser {
    pub sign_in: SignIn,
    pub session: SessionRequest,
}

/// Changes a signed-in account's password (`current` is checked under the
/// sign-in limits, unless the account has none yet). Every earlier sign-in of
/// the account ends; the browser that asked gets a new session.
#[derive(Message)]
#[rtype(result = "Result<OpenedSession, AccountsError>")]
pub struct ChangePassword {
    pub request_id: RequestId,
    pub client: String,
    pub user: User,
    pub current: SecretString,
    pub new: SecretString,
    pub session: SessionRequest,
}

/// Mails a reset link if an account uses `email`; the answer is the same
/// whether or not one does. Limited per client address.
#[derive(Message)]
#[rtype(result = "Result<(), AccountsError>")]
pub struct RequestPasswordReset {
    pub request_id: RequestId,
    pub client: String,
    pub email: String,
}

/// The account a reset link is for, while it can still be used.
#[derive(Message)]
#[rtype(result = "Result<User, AccountsError>")]
pub struct CheckResetLink {
    pub request_id: RequestId,
    pub token: String,
}

/// Sets a new password through a reset link, which it spends; every session,
/// access token and API token of the account ends.
#[derive(Message)]
#[rtype(result = "Result<Uuid, AccountsError>")]
pub struct ResetPassword {
    pub request_id: RequestId,
    pub token: String,
    pub password: SecretString,
}

/// Marks the address a verification link went to as verified.
#[derive(Message)]
#[rtype(result = "Result<Uuid, AccountsError>")]
pub struct VerifyEmail {
    pub request_id: RequestId,
    pub token: String,
}

/// Mails the account a new verification link. Limited per client address and
/// to one mail a minute per account.
#[derive(Message)]
#[rtype(result = "Result<(), AccountsError>")]
pub struct ResendVerification {
    pub request_id: RequestId,
    pub client: String,
    pub user_id: Uuid,
}

/// Who asks for an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    /// The account itself (the API, the settings page): only once its address
    /// is verified. Anyone can register an address that is not theirs; a token
    /// made before its owner takes the account back would be a way in that
    /// needs no password.
    Owner,
    /// The operator, on the command line: the address need not be verified.
    /// The operator vouches for the account by running the command (and
    /// accounts the operator makes count as verified anyway); the stranger the
    /// rule keeps out cannot run it. A reset by the address's owner still ends
    /// such a token.
    Operator,
}

/// Makes a personal API token; its secret is in the reply only.
#[derive(Message)]
#[rtype(result = "Result<CreatedToken, AccountsError>")]
pub struct CreateApiToken {
    pub request_id: RequestId,
    pub requester: Requester,
    pub user_id: Uuid,
    pub name: String,
    /// `None`: it never expires.
    pub expires_in_days: Option<i64>,
}

/// A token just made: what is stored, and the secret to show once.
#[derive(Debug)]
pub struct CreatedToken {
    pub stored: ApiToken,
    pub secret: String,
}

/// Deletes one of the user's tokens: it stops working at once.
#[derive(Message)]
#[rtype(result = "Result<(), AccountsError>")]
pub struct RevokeApiToken {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub token_id: Uuid,
}

/// Signs a browser in with a provider's answer: exchanges the authorization
/// code (with its PKCE verifier) for who signed in, then signs in, links or
/// creates the account the identity names, and opens a session.
#[derive(Message)]
#[rtype(result = "Result<ProviderSignIn, AccountsError>")]
pub struct SignInWithProvider {
    pub request_id: RequestId,
    pub code: ProviderCode,
    pub session: SessionRequest,
}

/// Links a provider to a signed-in account with the provider's answer.
#[derive(Message)]
#[rtype(result = "Result<ProviderLink, AccountsError>")]
pub struct LinkProvider {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub code: ProviderCode,
}

/// What a provider sent back to the callback, to be exchanged.
#[derive(Debug, Clone)]
pub struct ProviderCode {
    pub provider: Provider,
    pub code: String,
    pub pkce_verifier: String,
    /// The callback URL the flow was started with.
    pub redirect_uri: url::Url,
}

/// How a sign-in with a provider ended.
#[derive(Debug)]
pub enum ProviderSignIn {
    SignedIn(BrowserSession),
    /// An account has this address but the provider does not vouch for it.
    EmailInUseUnverified {
        email: String,
    },
    /// The account with this address is linked to another identity there.
    OtherIdentityLinked {
        email: String,
    },
    /// The provider shared no address, which a new account needs.
    NoEmail,
}

/// How linking a provider ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderLink {
    Linked,
    /// That identity signs in to another account.
    AlreadyLinkedElsewhere,
    /// The account has a different identity at this provider.
    ProviderAlreadyLinked,
}

/// Gives the account a new display name.
#[derive(Message)]
#[rtype(result = "Result<(), AccountsError>")]
pub struct RenameAccount {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub name: String,
}

/// What the settings page shows of an account beside its record.
#[derive(Message)]
#[rtype(result = "Result<AccountOverview, AccountsError>")]
pub struct DescribeAccount {
    pub request_id: RequestId,
    pub user_id: Uuid,
}

#[derive(Debug)]
pub struct AccountOverview {
    /// Its API tokens, newest first.
    pub tokens: Vec<ApiToken>,
    /// Whether it has a password, and the providers linked to it.
    pub sign_in: SignInMethods,
}

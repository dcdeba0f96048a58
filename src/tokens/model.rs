//! What `/token` and `/tokens` return. A token's secret appears only once, when it is issued.

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub expires_at: String,
}

#[derive(Debug, Serialize)]
pub struct TokenInfo {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TokenList {
    pub count: usize,
    pub results: Vec<TokenInfo>,
}

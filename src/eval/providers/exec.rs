//! (being written)
use super::{Completion, ProviderError, Request};
pub struct Exec;
impl Exec {
    pub async fn complete(&self, _request: &Request) -> Result<Completion, ProviderError> {
        Err(ProviderError::permanent("exec provider not built yet"))
    }
}

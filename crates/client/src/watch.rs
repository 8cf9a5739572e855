use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use weft_api::wire::Status;

use crate::ClientError;

/// Splits a newline-delimited JSON response into messages (watch events, sync messages).
pub(crate) async fn lines<T: DeserializeOwned>(
    response: reqwest::Response,
    server: String,
) -> Result<impl Stream<Item = Result<T, ClientError>>, ClientError> {
    if !response.status().is_success() {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::unreachable(&server, e))?;
        return Err(match serde_json::from_slice::<Status>(&bytes) {
            Ok(s) => ClientError::Api(Box::new(s)),
            Err(_) => ClientError::Decode(String::from_utf8_lossy(&bytes).into_owned()),
        });
    }
    let chunks = response.bytes_stream();
    let stream = futures::stream::unfold(
        (chunks, Vec::<u8>::new(), server),
        |(mut chunks, mut buffer, server)| async move {
            loop {
                if let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=pos).collect();
                    let event = serde_json::from_slice::<T>(&line).map_err(|e| ClientError::Decode(e.to_string()));
                    return Some((event, (chunks, buffer, server)));
                }
                match chunks.next().await {
                    Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                    Some(Err(e)) => {
                        return Some((Err(ClientError::unreachable(&server, e)), (chunks, Vec::new(), server)));
                    }
                    None => return None,
                }
            }
        },
    );
    Ok(stream)
}

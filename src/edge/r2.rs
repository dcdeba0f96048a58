//! The `r2` backend's bindings: `Blobs` on the R2 bucket (`CONTENT`), `Web` on `fetch` with
//! bodies streamed, `Jobs` on the fetch queue (`FETCHES`), and the queue's consumer, which
//! runs one fetch step per message.

use super::upstream::err as js_error;
use crate::r2::step::{Outcome, Stepper};
use crate::r2::{Blob, BlobError, Blobs, Chunks, Jobs, R2Settings, Web, WebAnswer};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{js_sys, web_sys, Bucket, ByteStream, Conditional, Queue, Range};

pub const BUCKET: &str = "CONTENT";
pub const QUEUE: &str = "FETCHES";
/// Longest wait for a source to start answering; a body that stalls is cut by the runtime.
const TIMEOUT_MS: u32 = 30_000;
/// Queues delays messages by at most 12 hours.
const MAX_DELAY_SECS: u32 = 43_200;

/// `None` when the bucket is not bound: every call fails, and the lifecycle retries.
pub struct R2Blobs(pub Option<Bucket>);

impl R2Blobs {
    fn bucket(&self) -> Result<&Bucket, BlobError> {
        self.0
            .as_ref()
            .ok_or_else(|| BlobError(format!("the R2 bucket {BUCKET} is not bound")))
    }
}

fn blob_err(e: worker::Error) -> BlobError {
    BlobError(e.to_string())
}

impl Blobs for R2Blobs {
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let Some(object) = self.bucket()?.get(key).execute().await.map_err(blob_err)? else {
            return Ok(None);
        };
        let etag = object.etag();
        let bytes = match object.body() {
            Some(body) => body.bytes().await.map_err(blob_err)?,
            None => Vec::new(),
        };
        Ok(Some(Blob { bytes, etag }))
    }

    async fn get_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, BlobError> {
        let range = Range::OffsetWithLength {
            offset,
            length: len,
        };
        let got = self
            .bucket()?
            .get(key)
            .range(range)
            .execute()
            .await
            .map_err(blob_err)?;
        let Some(object) = got else { return Ok(None) };
        match object.body() {
            Some(body) => Ok(Some(body.bytes().await.map_err(blob_err)?)),
            None => Ok(Some(Vec::new())),
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.bucket()?
            .put(key, bytes)
            .execute()
            .await
            .map_err(blob_err)?;
        Ok(())
    }

    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        etag: &str,
    ) -> Result<Option<String>, BlobError> {
        let only_if = Conditional {
            etag_matches: Some(etag.to_owned()),
            ..Conditional::default()
        };
        let put = self
            .bucket()?
            .put(key, bytes)
            .only_if(only_if)
            .execute()
            .await;
        Ok(put.map_err(blob_err)?.map(|o| o.etag()))
    }

    async fn delete(&self, keys: Vec<String>) -> Result<(), BlobError> {
        for chunk in keys.chunks(1000) {
            self.bucket()?
                .delete_multiple(chunk.to_vec())
                .await
                .map_err(blob_err)?;
        }
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), BlobError> {
        // The cursor is a key to list after (R2's `startAfter`), not R2's own cursor: the
        // hourly collect stops inside a page and goes on from a key of its choosing.
        let mut list = self.bucket()?.list().prefix(prefix);
        if let Some(after) = cursor {
            list = list.start_after(after);
        }
        let page = list.execute().await.map_err(blob_err)?;
        let keys: Vec<String> = page.objects().iter().map(|o| o.key()).collect();
        let next = page.truncated().then(|| keys.last().cloned()).flatten();
        Ok((keys, next))
    }
}

pub struct FetchWeb;

pub struct Body(Option<ByteStream>);

impl Chunks for Body {
    async fn next(&mut self) -> Option<Result<Vec<u8>, String>> {
        let stream = self.0.as_mut()?;
        stream.next().await.map(|r| r.map_err(|e| e.to_string()))
    }
}

impl Web for FetchWeb {
    type Body = Body;

    async fn get(&self, url: &str, accept: &str) -> Result<WebAnswer<Body>, String> {
        let headers = web_sys::Headers::new().map_err(js_error)?;
        headers.set("accept", accept).map_err(js_error)?;
        let init = web_sys::RequestInit::new();
        init.set_method("GET");
        init.set_headers(&headers);
        init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS)));
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let answer = JsFuture::from(global.fetch_with_str_and_init(url, &init))
            .await
            .map_err(js_error)?;
        let response: web_sys::Response = answer.dyn_into().map_err(js_error)?;
        let content_type = response.headers().get("content-type").ok().flatten();
        Ok(WebAnswer {
            status: response.status(),
            content_type: content_type.unwrap_or_default(),
            body: Body(response.body().map(ByteStream::from)),
        })
    }
}

/// A fetch queue message: one step of one DAG.
#[derive(Serialize, Deserialize)]
pub struct Job {
    pub cid: String,
}

pub struct QueueJobs(pub Option<Queue>);

impl Jobs for QueueJobs {
    async fn start(&self, cid: &str, delay_secs: u32) -> Result<(), String> {
        let queue = self.0.as_ref().ok_or("the FETCHES queue is not bound")?;
        let job = Job {
            cid: cid.to_owned(),
        };
        let message = worker::MessageBuilder::new(job)
            .delay_seconds(delay_secs.min(MAX_DELAY_SECS))
            .build();
        queue.send(message).await.map_err(|e| e.to_string())
    }
}

/// Runs one step for a message and starts the next when there is more to do. An R2 failure
/// leaves the message to the queue's own retries.
pub async fn step(
    blobs: &R2Blobs,
    jobs: &QueueJobs,
    settings: &R2Settings,
    cid: &str,
    now: u64,
    tag: &str,
) -> Result<Outcome, String> {
    let stepper = Stepper {
        blobs,
        web: &FetchWeb,
        settings,
    };
    let outcome = stepper.run(cid, now, tag).await.map_err(|e| e.0)?;
    match outcome {
        Outcome::Again => jobs.start(cid, 0).await?,
        Outcome::Later(secs) => jobs.start(cid, secs).await?,
        Outcome::Done | Outcome::Busy => {}
    }
    Ok(outcome)
}

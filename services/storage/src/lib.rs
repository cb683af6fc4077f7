//! Uploaded files (logos, and later documents and cover images): stored by key under the
//! data dir on the local filesystem (the default), or in an S3-compatible bucket when the
//! configuration names one ([`Storage::s3`], [`S3Config`]). Keys are made here
//! from a tenant id and the content's hash, never from a user's file name, so a key cannot
//! climb out of its directory and two tenants never share one, on either backend. Also the
//! content checks every upload goes through: what a file is, is read from its bytes, not from
//! its name or the type the browser claims.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use uuid::Uuid;

mod s3;

pub use s3::S3Config;

/// A file's bytes as they are read, for answers that should not hold a whole archive in
/// memory.
pub type ByteStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static>>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid storage key")]
    BadKey,
    /// A setting that cannot work, or a bucket that cannot be used: said at start-up.
    #[error("{0}")]
    Config(String),
    #[error("object storage: {0}")]
    Remote(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("object storage: no answer within {} s", .0.as_secs())]
    Timeout(std::time::Duration),
}

/// An image kind accepted for logos and covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Webp,
}

impl ImageKind {
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpg",
            ImageKind::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Webp => "image/webp",
        }
    }

    fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "png" => Some(ImageKind::Png),
            "jpg" => Some(ImageKind::Jpeg),
            "webp" => Some(ImageKind::Webp),
            _ => None,
        }
    }
}

/// Why an uploaded image was refused, in words for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Checks that `bytes` really are a PNG, JPEG or WebP image of sensible dimensions and at
/// most `max_bytes` long. SVG is refused: it can carry scripts.
pub fn check_image(bytes: &[u8], max_bytes: usize) -> Result<(ImageKind, (usize, usize)), Refused> {
    if bytes.is_empty() {
        return Err(Refused("le fichier est vide".into()));
    }
    if bytes.len() > max_bytes {
        return Err(Refused(format!(
            "le fichier fait {} Ko ; la taille maximale est de {} Ko",
            bytes.len().div_ceil(1024),
            max_bytes / 1024
        )));
    }
    let kind = match imagesize::image_type(bytes) {
        Ok(imagesize::ImageType::Png) => ImageKind::Png,
        Ok(imagesize::ImageType::Jpeg) => ImageKind::Jpeg,
        Ok(imagesize::ImageType::Webp) => ImageKind::Webp,
        _ => return Err(Refused("seules les images PNG, JPEG ou WebP sont acceptées".into())),
    };
    let size = imagesize::blob_size(bytes).map_err(|_| Refused("cette image est illisible ou incomplète".into()))?;
    if size.width == 0 || size.height == 0 || size.width > 4000 || size.height > 4000 {
        return Err(Refused("l'image doit mesurer au plus 4 000 × 4 000 pixels".into()));
    }
    Ok((kind, (size.width, size.height)))
}

/// Where files go. `Debug` shows the backend, never credentials.
#[derive(Clone)]
pub struct Storage {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Local(PathBuf),
    S3(s3::S3Store),
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Local(root) => f.debug_tuple("Storage::Local").field(root).finish(),
            Backend::S3(store) => f.debug_tuple("Storage::S3").field(store).finish(),
        }
    }
}

/// Keys are `/`-separated segments of ASCII letters, digits, `-`, `.` and `_`, none empty,
/// `.` or `..`: safe as a relative path and as an object name.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        })
}

impl Storage {
    /// Files under `root` (the data dir's `files/`).
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Storage {
            backend: Backend::Local(root.into()),
        }
    }

    /// Objects in an S3-compatible bucket. Checks the settings (an [`Error::Config`] says
    /// which one is wrong) without contacting the service: [`Self::verify`] does that.
    pub fn s3(config: S3Config) -> Result<Self, Error> {
        Ok(Storage {
            backend: Backend::S3(s3::S3Store::new(config)?),
        })
    }

    /// For the start-up log: `local files under …` or `S3 bucket … at …[, under <prefix>]`.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(root) => format!("local files under {}", root.display()),
            Backend::S3(store) => store.describe(),
        }
    }

    /// At start-up: for S3, one listing of the bucket, so that wrong credentials or a missing
    /// bucket stop the process with a clear message. Nothing to check locally (the directories
    /// are made on the first write).
    pub async fn verify(&self) -> Result<(), Error> {
        match &self.backend {
            Backend::Local(_) => Ok(()),
            Backend::S3(store) => timed(store.verify()).await.map_err(|e| match e {
                Error::Timeout(limit) => {
                    Error::Config(format!("{}: no answer within {} s", store.describe(), limit.as_secs()))
                }
                other => other,
            }),
        }
    }

    /// A key for an image of a tenant: `tenants/<id>/<purpose>-<sha256 prefix>.<ext>`.
    pub fn image_key(tenant: Uuid, purpose: &str, kind: ImageKind, bytes: &[u8]) -> String {
        let digest = Sha256::digest(bytes);
        let hash: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("tenants/{tenant}/{purpose}-{hash}.{}", kind.extension())
    }

    fn path(root: &Path, key: &str) -> Result<PathBuf, Error> {
        if valid_key(key) {
            Ok(root.join(key))
        } else {
            Err(Error::BadKey)
        }
    }

    /// Writes atomically (locally a temporary file renamed into place; an S3 PUT is atomic).
    pub async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        let root = match &self.backend {
            Backend::Local(root) => root,
            Backend::S3(store) => {
                if !valid_key(key) {
                    return Err(Error::BadKey);
                }
                let content_type = image_kind(key).map(ImageKind::content_type);
                return timed(store.put(key, bytes, content_type)).await;
            }
        };
        let path = Self::path(root, key)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(".{}.tmp", Uuid::new_v4()));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    /// The bytes and content type of an image stored under `key`.
    pub async fn get_image(&self, key: &str) -> Result<Option<(Vec<u8>, &'static str)>, Error> {
        if !valid_key(key) {
            return Err(Error::BadKey);
        }
        let kind = image_kind(key).ok_or(Error::BadKey)?;
        let root = match &self.backend {
            Backend::Local(root) => root,
            Backend::S3(store) => {
                let bytes = timed(store.get(key)).await?;
                return Ok(bytes.map(|bytes| (bytes, kind.content_type())));
            }
        };
        match tokio::fs::read(Self::path(root, key)?).await {
            Ok(bytes) => Ok(Some((bytes, kind.content_type()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The bytes stored under `key`, whatever they are (`get_image` is for serving images).
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        if !valid_key(key) {
            return Err(Error::BadKey);
        }
        let root = match &self.backend {
            Backend::Local(root) => root,
            Backend::S3(store) => return timed(store.get(key)).await,
        };
        match tokio::fs::read(Self::path(root, key)?).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the file at `path` under `key` without reading it into memory (archives):
    /// locally a copy renamed into place, on S3 a multipart upload. No time limit: a large
    /// file takes as long as it takes, and the caller is a background job.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), Error> {
        if !valid_key(key) {
            return Err(Error::BadKey);
        }
        let root = match &self.backend {
            Backend::Local(root) => root,
            Backend::S3(store) => return store.put_file(key, path).await,
        };
        let target = Self::path(root, key)?;
        let dir = target.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(".{}.tmp", Uuid::new_v4()));
        tokio::fs::copy(path, &tmp).await?;
        tokio::fs::rename(&tmp, &target).await?;
        Ok(())
    }

    /// The size of what is stored under `key` and a stream of its bytes, read as they are
    /// sent.
    pub async fn open(&self, key: &str) -> Result<Option<(u64, ByteStream)>, Error> {
        if !valid_key(key) {
            return Err(Error::BadKey);
        }
        let root = match &self.backend {
            Backend::Local(root) => root,
            Backend::S3(store) => return timed(store.open(key)).await,
        };
        let file = match tokio::fs::File::open(Self::path(root, key)?).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        let stream = futures::stream::try_unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 64 * 1024];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((bytes::Bytes::from(buf), file)))
        });
        Ok(Some((size, Box::pin(stream))))
    }

    /// Every key under `prefix` (a folder such as `tenants/<id>/`), sorted: what a tenant's
    /// archive carries. Local temporary files of writes in progress are not keys.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let folder = prefix.trim_end_matches('/');
        if !valid_key(folder) {
            return Err(Error::BadKey);
        }
        let mut keys = match &self.backend {
            Backend::S3(store) => timed(store.list(folder)).await?,
            Backend::Local(root) => {
                let mut keys = Vec::new();
                let mut pending = vec![folder.to_string()];
                while let Some(dir) = pending.pop() {
                    let mut entries = match tokio::fs::read_dir(Self::path(root, &dir)?).await {
                        Ok(entries) => entries,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e.into()),
                    };
                    while let Some(entry) = entries.next_entry().await? {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        let key = format!("{dir}/{name}");
                        if name.starts_with('.') || !valid_key(&key) {
                            continue;
                        }
                        if entry.file_type().await?.is_dir() {
                            pending.push(key);
                        } else {
                            keys.push(key);
                        }
                    }
                }
                keys
            }
        };
        keys.sort();
        Ok(keys)
    }

    /// Deleting what is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        let root = match &self.backend {
            Backend::Local(root) => root,
            Backend::S3(store) => {
                if !valid_key(key) {
                    return Err(Error::BadKey);
                }
                return timed(store.delete(key)).await;
            }
        };
        match tokio::fs::remove_file(Self::path(root, key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

fn image_kind(key: &str) -> Option<ImageKind> {
    key.rsplit_once('.').and_then(|(_, ext)| ImageKind::from_extension(ext))
}

/// A remote operation, retries included, bounded in time: a person is waiting for it.
async fn timed<T>(operation: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::time::timeout(s3::OPERATION_TIMEOUT, operation)
        .await
        .unwrap_or(Err(Error::Timeout(s3::OPERATION_TIMEOUT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid 1×1 PNG.
    pub const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
        0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF,
        0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(check_image(PNG, 1024).unwrap(), (ImageKind::Png, (1, 1)));
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert!(check_image(svg, 1024).unwrap_err().0.contains("PNG, JPEG ou WebP"));
        let html_named_png = b"<html><body>not an image</body></html>";
        assert!(check_image(html_named_png, 1024).is_err());
        assert!(check_image(PNG, 10).unwrap_err().0.contains("taille maximale"));
        assert!(check_image(&PNG[..20], 1024).is_err(), "a truncated image");
        assert!(check_image(b"", 1024).is_err());
    }

    #[tokio::test]
    async fn files_round_trip_and_keys_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::local(dir.path());
        let key = Storage::image_key(Uuid::nil(), "logo", ImageKind::Png, PNG);
        storage.put(&key, PNG).await.unwrap();
        assert_eq!(
            storage.get_image(&key).await.unwrap().unwrap(),
            (PNG.to_vec(), "image/png")
        );
        assert_eq!(storage.get(&key).await.unwrap().unwrap(), PNG);
        storage.put("tenants/other/doc.pdf", b"%PDF").await.unwrap();
        let folder = format!("tenants/{}/", Uuid::nil());
        assert_eq!(storage.list(&folder).await.unwrap(), vec![key.clone()]);
        assert_eq!(
            storage.list("tenants").await.unwrap(),
            vec![key.clone(), "tenants/other/doc.pdf".to_string()]
        );
        assert!(storage.list("tenants/nobody/").await.unwrap().is_empty());
        assert!(storage.list("../etc").await.is_err());
        storage.delete(&key).await.unwrap();
        assert!(storage.get_image(&key).await.unwrap().is_none());
        assert!(storage.get(&key).await.unwrap().is_none());
        for bad in [
            "../etc/passwd.png",
            "/etc/passwd.png",
            "tenants//x.png",
            "a/../../b.png",
            "",
        ] {
            assert!(storage.put(bad, PNG).await.is_err(), "{bad}");
        }
    }
}

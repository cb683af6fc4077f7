//! Uploaded files (logos, and later documents and cover images): stored by key under the
//! data dir on the local filesystem. Keys are made here from a tenant id and the content's
//! hash, never from a user's file name, so a key cannot climb out of its directory and two
//! tenants never share one. Also the content checks every upload goes through: what a file
//! is, is read from its bytes, not from its name or the type the browser claims.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid storage key")]
    BadKey,
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

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// Files under `root` (the data dir's `files/`).
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Storage { root: root.into() }
    }

    /// A key for an image of a tenant: `tenants/<id>/<purpose>-<sha256 prefix>.<ext>`.
    pub fn image_key(tenant: Uuid, purpose: &str, kind: ImageKind, bytes: &[u8]) -> String {
        let digest = Sha256::digest(bytes);
        let hash: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("tenants/{tenant}/{purpose}-{hash}.{}", kind.extension())
    }

    fn path(&self, key: &str) -> Result<PathBuf, Error> {
        let ok = !key.is_empty()
            && key.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            });
        if ok {
            Ok(self.root.join(key))
        } else {
            Err(Error::BadKey)
        }
    }

    /// Writes atomically (a temporary file renamed into place).
    pub async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(".{}.tmp", Uuid::new_v4()));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    /// The bytes and content type of an image stored under `key`.
    pub async fn get_image(&self, key: &str) -> Result<Option<(Vec<u8>, &'static str)>, Error> {
        let path = self.path(key)?;
        let kind = key
            .rsplit_once('.')
            .and_then(|(_, ext)| ImageKind::from_extension(ext))
            .ok_or(Error::BadKey)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some((bytes, kind.content_type()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
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
        storage.delete(&key).await.unwrap();
        assert!(storage.get_image(&key).await.unwrap().is_none());
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

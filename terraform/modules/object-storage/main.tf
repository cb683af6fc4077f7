# The bucket for uploads and tenant exports: private, versioned (an overwrite or a deletion
# stays recoverable), with lifecycle rules, and an IAM application whose key Participe uses
# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the chart's s3.existingSecret).

resource "scaleway_object_bucket" "this" {
  name   = var.bucket_name
  region = var.region
  tags   = var.tags

  versioning {
    enabled = true
  }

  lifecycle_rule {
    id                                     = "abort-incomplete-multipart-uploads"
    enabled                                = true
    abort_incomplete_multipart_upload_days = var.abort_incomplete_multipart_upload_days
  }

  lifecycle_rule {
    id      = "expire-exports"
    enabled = true
    prefix  = var.exports_prefix

    expiration {
      days = var.exports_expiration_days
    }
  }

  dynamic "lifecycle_rule" {
    for_each = var.glacier_transition_days > 0 ? [1] : []

    content {
      id      = "uploads-to-glacier"
      enabled = true
      prefix  = "uploads/"

      transition {
        days          = var.glacier_transition_days
        storage_class = "GLACIER"
      }
    }
  }

  dynamic "cors_rule" {
    for_each = length(var.cors_allowed_origins) > 0 ? [1] : []

    content {
      allowed_methods = ["GET", "PUT", "HEAD"]
      allowed_origins = var.cors_allowed_origins
      allowed_headers = ["*"]
      max_age_seconds = 3600
    }
  }
}

resource "scaleway_object_bucket_acl" "this" {
  bucket = scaleway_object_bucket.this.id
  region = var.region
  acl    = "private"
}

resource "scaleway_iam_application" "participe" {
  name        = "${var.bucket_name}-participe"
  description = "Participe's access to its object storage bucket"
}

resource "scaleway_iam_policy" "participe" {
  name           = "${var.bucket_name}-participe"
  description    = "Read, write and delete objects in the project's buckets"
  application_id = scaleway_iam_application.participe.id

  rule {
    project_ids = [var.project_id]
    permission_set_names = [
      "ObjectStorageBucketsRead",
      "ObjectStorageObjectsRead",
      "ObjectStorageObjectsWrite",
      "ObjectStorageObjectsDelete",
    ]
  }
}

resource "scaleway_iam_api_key" "participe" {
  application_id     = scaleway_iam_application.participe.id
  default_project_id = var.project_id
  description        = "Participe uploads (rotate: create a new key, update the Secret, roll the pods, delete the old key)"
}

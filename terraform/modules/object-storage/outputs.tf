output "bucket_name" {
  description = "Bucket name (chart value s3.bucket)."
  value       = scaleway_object_bucket.this.name
}

output "endpoint" {
  description = "S3 endpoint of the region (chart value s3.endpoint)."
  value       = "https://s3.${var.region}.scw.cloud"
}

output "region" {
  description = "Region of the bucket (chart value s3.region)."
  value       = var.region
}

output "access_key_id" {
  description = "Access key of Participe's IAM application (AWS_ACCESS_KEY_ID in the chart's s3.existingSecret)."
  value       = scaleway_iam_api_key.participe.access_key
}

output "secret_access_key" {
  description = "Secret key of Participe's IAM application (AWS_SECRET_ACCESS_KEY in the chart's s3.existingSecret)."
  value       = scaleway_iam_api_key.participe.secret_key
  sensitive   = true
}

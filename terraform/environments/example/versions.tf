terraform {
  required_version = ">= 1.6.0"

  required_providers {
    scaleway = {
      source  = "scaleway/scaleway"
      version = "~> 2.61"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # The state holds the generated database passwords and the S3 secret key: keep it in a
  # private, versioned bucket (Scaleway Object Storage speaks S3), never in git.
  #   terraform init -backend-config=backend.hcl   (see backend.hcl.example)
  backend "s3" {}
}

# Credentials come from the environment (SCW_ACCESS_KEY, SCW_SECRET_KEY,
# SCW_DEFAULT_PROJECT_ID), never from this code.
provider "scaleway" {
  region     = var.region
  zone       = var.zone
  project_id = var.project_id
}

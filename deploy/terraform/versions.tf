terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.30, < 7"
    }
  }
  # One state per environment: terraform init -backend-config=bucket=... -backend-config=prefix=...
  # (deploy/README.md, step 6). Applying two environments' tfvars to one state would replace one
  # environment's resources with the other's.
  backend "gcs" {}
}

provider "google" {
  project = var.project
  region  = var.region
}

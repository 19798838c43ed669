"""gempool imagehost: stores generated images and audio with the configured UPLOAD_PROVIDER."""

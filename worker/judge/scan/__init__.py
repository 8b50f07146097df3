"""Finding identity documents and readable sensitive fields (MRZ, BSN, document number, photo)."""

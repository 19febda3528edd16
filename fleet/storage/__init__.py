"""The output-storage adapter: ``fleet.ports.OutputStore`` on Azure Blob Storage (or Azurite)
with azure-storage-blob's async clients and the SAS it issues per blob. Like ``fleet.azure`` it
implements ports: it imports only ports, model, errors and util (never the engine, journal,
report, spec or secrets).

    sas      SasIssuer: a user-delegation SAS (Azure AD) or an account-key SAS (Azurite, or
             a key from FLEET_STORAGE_KEY) behind one interface
    store    BlobOutputStore: list, properties, ranged reads, prune; paced, counted
    factory  output_store_factory: what ``Backend.outputs`` is for a connection
"""

#ifndef MEDLEDGER_COPENSSL_SHIM_H
#define MEDLEDGER_COPENSSL_SHIM_H

// OpenSSL 3 (libssl-dev). Only Sources/MedLedgerCrypto/Internals/OpenSSL.swift
// imports this module; everything else uses MedLedgerCrypto's typed Swift API.
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/kdf.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#endif

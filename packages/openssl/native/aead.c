/*
 * AEAD through OpenSSL's EVP interface, with one cipher context per key and direction
 * kept for the key's lifetime.
 *
 * node:crypto creates a new cipher object per message (its nonce cannot be changed), so
 * every message pays OpenSSL's cipher lookup, context set-up and key schedule. Here the
 * key is set once; each message only sets its nonce (EVP_CipherInit_ex with a NULL
 * cipher and key keeps both). The AEAD itself is OpenSSL's: nothing of AES-CCM, AES-GCM
 * or ChaCha20-Poly1305, and no tag comparison, is implemented here.
 *
 * The symbols are the ones Node.js exports for addons (it links OpenSSL itself), so this
 * runs on exactly the OpenSSL that node:crypto uses.
 *
 * Every argument is checked here as well as in the TypeScript wrapper: a wrong type or
 * length throws a TypeError or RangeError, never reads or writes out of bounds.
 */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

/*
 * The AEADs this addon runs, by OpenSSL name. Other ciphers carry OpenSSL's AEAD flag too
 * (AES-OCB, ARIA-GCM/CCM, and the TLS-only AES-CBC-HMAC-SHA1/SHA256, whose IV is always 16
 * bytes whatever length is asked for: OpenSSL would read 16 bytes from a shorter nonce);
 * none of them gets a key.
 */
static const char *const CIPHERS[] = {
    "aes-128-ccm", "aes-192-ccm", "aes-256-ccm", "aes-128-gcm", "aes-192-gcm", "aes-256-gcm", "chacha20-poly1305",
};

/* Marks the objects this addon made, so a foreign object is never read as a key. */
static const napi_type_tag KEY_TAG = {0x6f73636f72652d68ULL, 0x7474702d61656164ULL};

typedef struct {
  EVP_CIPHER_CTX *encrypt;
  EVP_CIPHER_CTX *decrypt;
  int ccm;        /* AES-CCM: the message length goes in before the AAD (RFC 3610 B_0). */
  int nonce_len;
  int tag_len;
} aead_key;

static void key_free(aead_key *key) {
  /* EVP_CIPHER_CTX_free cleanses the key schedule. */
  EVP_CIPHER_CTX_free(key->encrypt);
  EVP_CIPHER_CTX_free(key->decrypt);
  free(key);
}

static void key_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  key_free((aead_key *)data);
}

static napi_value fail(napi_env env, const char *code, const char *message, int range) {
  if (range) napi_throw_range_error(env, code, message);
  else napi_throw_type_error(env, code, message);
  return NULL;
}

/* A length argument: 0 if it is not a number, -1 if it is not an integer in [min, max], else 1. */
static int length_of(napi_env env, napi_value value, int min, int max, int *out) {
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok) return 0;
  if (!(d >= min && d <= max) || d != (double)(int)d) return -1;
  *out = (int)d;
  return 1;
}

static int known_cipher(const char *name) {
  for (size_t i = 0; i < sizeof CIPHERS / sizeof CIPHERS[0]; i++)
    if (strcmp(name, CIPHERS[i]) == 0) return 1;
  return 0;
}

/* The bytes of a Uint8Array argument (a Buffer is one). */
static int bytes_of(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  void *ptr = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &ptr, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  if (*length > INT_MAX) return 0;
  /* An empty array may have no backing store; OpenSSL is never handed a NULL input. */
  static unsigned char empty[1];
  *data = ptr != NULL ? (unsigned char *)ptr : empty;
  return 1;
}

static aead_key *key_of(napi_env env, napi_value value) {
  bool tagged = false;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object) return NULL;
  if (napi_check_object_type_tag(env, value, &KEY_TAG, &tagged) != napi_ok || !tagged) return NULL;
  void *data = NULL;
  if (napi_unwrap(env, value, &data) != napi_ok) return NULL;
  return (aead_key *)data;
}

static EVP_CIPHER_CTX *context_new(const EVP_CIPHER *cipher, int enc, const aead_key *key, const unsigned char *key_bytes) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  /* Nonce and tag length are set before the key (OpenSSL's AEAD interface; for CCM the tag length M is part of B_0). */
  /*
   * EVP_CipherInit_ex later reads EVP_CIPHER_CTX_get_iv_length() bytes from the nonce: that
   * must be the nonce length every call checks, whatever the ctrl above reported.
   */
  if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, key->nonce_len, NULL) == 1 &&
      (!key->ccm || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, key->tag_len, NULL) == 1) &&
      EVP_CipherInit_ex(ctx, NULL, NULL, key_bytes, NULL, enc) == 1 &&
      EVP_CIPHER_CTX_get_iv_length(ctx) == key->nonce_len)
    return ctx;
  EVP_CIPHER_CTX_free(ctx);
  return NULL;
}

/* importKey(cipherName: string, key: Uint8Array, nonceLength: number, tagLength: number): object */
static napi_value import_key(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) return fail(env, "ERR_INVALID_ARG_TYPE", "importKey takes 4 arguments", 0);
  char name[32];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok || name_len == 0 || name_len >= sizeof name - 1)
    return fail(env, "ERR_INVALID_ARG_TYPE", "the cipher name must be a short string", 0);
  unsigned char *key_bytes;
  size_t key_len;
  if (!bytes_of(env, argv[1], &key_bytes, &key_len)) return fail(env, "ERR_INVALID_ARG_TYPE", "the key must be a Uint8Array", 0);
  int nonce_len = 0, tag_len = 0;
  int nonce_ok = length_of(env, argv[2], 7, 16, &nonce_len), tag_ok = length_of(env, argv[3], 4, 16, &tag_len);
  if (nonce_ok == 0 || tag_ok == 0) return fail(env, "ERR_INVALID_ARG_TYPE", "nonce and tag lengths must be numbers", 0);
  if (nonce_ok < 0 || tag_ok < 0) return fail(env, "ERR_OUT_OF_RANGE", "nonce or tag length is not an integer in range", 1);

  const EVP_CIPHER *cipher = known_cipher(name) ? EVP_get_cipherbyname(name) : NULL;
  if (cipher == NULL || !(EVP_CIPHER_get_flags(cipher) & EVP_CIPH_FLAG_AEAD_CIPHER)) return fail(env, "ERR_CRYPTO_UNKNOWN_CIPHER", "not an AES-CCM, AES-GCM or ChaCha20-Poly1305 cipher of OpenSSL", 0);
  if ((size_t)EVP_CIPHER_get_key_length(cipher) != key_len) return fail(env, "ERR_CRYPTO_INVALID_KEYLEN", "the key length does not match the cipher", 1);

  aead_key *key = calloc(1, sizeof *key);
  if (key == NULL) return fail(env, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory", 1);
  key->ccm = EVP_CIPHER_get_mode(cipher) == EVP_CIPH_CCM_MODE;
  key->nonce_len = nonce_len;
  key->tag_len = tag_len;
  /* OpenSSL's errors from a refused parameter stay ours: node:crypto reads the same thread's queue. */
  ERR_set_mark();
  key->encrypt = context_new(cipher, 1, key, key_bytes);
  key->decrypt = context_new(cipher, 0, key, key_bytes);
  ERR_pop_to_mark();
  if (key->encrypt == NULL || key->decrypt == NULL) {
    key_free(key);
    return fail(env, "ERR_CRYPTO_OPERATION_FAILED", "OpenSSL refused the cipher parameters", 1);
  }

  napi_value object;
  if (napi_create_object(env, &object) != napi_ok) {
    key_free(key);
    return NULL;
  }
  if (napi_wrap(env, object, key, key_finalize, NULL, NULL) != napi_ok) {
    key_free(key);
    return fail(env, "ERR_CRYPTO_OPERATION_FAILED", "could not attach the key", 1);
  }
  napi_type_tag_object(env, object, &KEY_TAG);
  return object;
}

typedef struct {
  aead_key *key;
  unsigned char *nonce, *aad, *in, *out;
  size_t nonce_len, aad_len, in_len, out_len;
} call_args;

/* (key, nonce, aad, input, output) with every type and the nonce length checked. */
static int call_args_of(napi_env env, napi_callback_info info, call_args *a) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) return 0;
  a->key = key_of(env, argv[0]);
  return a->key != NULL && bytes_of(env, argv[1], &a->nonce, &a->nonce_len) && a->nonce_len == (size_t)a->key->nonce_len &&
         bytes_of(env, argv[2], &a->aad, &a->aad_len) && bytes_of(env, argv[3], &a->in, &a->in_len) &&
         bytes_of(env, argv[4], &a->out, &a->out_len);
}

/*
 * Whether `length` is over what AES-CCM's length field of L = 15 - nonce length bytes holds
 * (RFC 3610 §2.1: 2^(8L) - 1; 65,535 bytes with OSCORE's 13-byte nonce). Such a message
 * never reaches OpenSSL: on that error CRYPTO_ccm128_encrypt/decrypt return without
 * restoring the flags byte of B_0, so the context would lose its tag length M and every
 * later message of the key would fail.
 */
static int ccm_too_long(const aead_key *k, size_t length) {
  int L = 15 - k->nonce_len;
  return k->ccm && L < 4 && length > (((size_t)1 << (8 * L)) - 1);
}

static napi_value int_value(napi_env env, int value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

/*
 * encrypt(key, nonce, aad, plaintext, out): writes ciphertext ‖ tag (RFC 5116 §2.1) into
 * `out`, which must hold plaintext.length + tagLength bytes; returns that length, or −1
 * if OpenSSL failed. A plaintext over AES-CCM's length bound is a RangeError.
 */
static napi_value aead_encrypt(napi_env env, napi_callback_info info) {
  call_args a;
  if (!call_args_of(env, info, &a)) return fail(env, "ERR_INVALID_ARG_TYPE", "encrypt(key, nonce, aad, plaintext, out) with Uint8Arrays and a nonce of the key's length", 0);
  aead_key *k = a.key;
  if (a.out_len < a.in_len + (size_t)k->tag_len || a.in_len > (size_t)(INT_MAX - k->tag_len)) return fail(env, "ERR_OUT_OF_RANGE", "the output is too small", 1);
  if (ccm_too_long(k, a.in_len)) return fail(env, "ERR_OUT_OF_RANGE", "the plaintext is longer than AES-CCM allows with this nonce length", 1);
  EVP_CIPHER_CTX *ctx = k->encrypt;
  /*
   * A failure of OpenSSL leaves its errors on this thread's queue, which node:crypto would
   * then report as the cause of its own next failure: everything OpenSSL queues here is
   * popped before returning.
   */
  ERR_set_mark();
  int len = 0, final_len = 0, ok =
      EVP_CipherInit_ex(ctx, NULL, NULL, NULL, a.nonce, 1) == 1 &&
      (!k->ccm || EVP_CipherUpdate(ctx, NULL, &len, NULL, (int)a.in_len) == 1) &&
      (a.aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &len, a.aad, (int)a.aad_len) == 1) &&
      EVP_CipherUpdate(ctx, a.out, &len, a.in, (int)a.in_len) == 1 &&
      EVP_CipherFinal_ex(ctx, a.out + len, &final_len) == 1 &&
      (size_t)(len + final_len) == a.in_len &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, k->tag_len, a.out + a.in_len) == 1;
  ERR_pop_to_mark();
  if (!ok) {
    OPENSSL_cleanse(a.out, a.out_len);
    return int_value(env, -1);
  }
  return int_value(env, (int)a.in_len + k->tag_len);
}

/*
 * decrypt(key, nonce, aad, ciphertext ‖ tag, out): writes the plaintext into `out`, which
 * must hold ciphertext.length − tagLength bytes; returns that length, or −1 if the tag
 * does not verify (OpenSSL compares it) — `out` is then wiped, so no unauthenticated
 * plaintext survives.
 */
static napi_value aead_decrypt(napi_env env, napi_callback_info info) {
  call_args a;
  if (!call_args_of(env, info, &a)) return fail(env, "ERR_INVALID_ARG_TYPE", "decrypt(key, nonce, aad, ciphertext, out) with Uint8Arrays and a nonce of the key's length", 0);
  aead_key *k = a.key;
  if (a.in_len < (size_t)k->tag_len) return int_value(env, -1);
  int body_len = (int)a.in_len - k->tag_len;
  if (a.out_len < (size_t)body_len) return fail(env, "ERR_OUT_OF_RANGE", "the output is too small", 1);
  if (ccm_too_long(k, (size_t)body_len)) return int_value(env, -1); /* cannot be authentic */
  EVP_CIPHER_CTX *ctx = k->decrypt;
  /* A forged message makes OpenSSL queue an error (CCM does): popped, as in encrypt. */
  ERR_set_mark();
  int len = 0, final_len = 0, ok =
      EVP_CipherInit_ex(ctx, NULL, NULL, NULL, a.nonce, 0) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, k->tag_len, a.in + body_len) == 1;
  if (ok && k->ccm) {
    /* CCM verifies the tag in the one update of the whole message (OpenSSL EVP_EncryptInit(3), "CCM mode"). */
    ok = EVP_CipherUpdate(ctx, NULL, &len, NULL, body_len) == 1 &&
         (a.aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &len, a.aad, (int)a.aad_len) == 1) &&
         EVP_CipherUpdate(ctx, a.out, &len, a.in, body_len) > 0;
  } else if (ok) {
    ok = (a.aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &len, a.aad, (int)a.aad_len) == 1) &&
         EVP_CipherUpdate(ctx, a.out, &len, a.in, body_len) == 1 &&
         EVP_CipherFinal_ex(ctx, a.out + len, &final_len) > 0 &&
         len + final_len == body_len;
  }
  ERR_pop_to_mark();
  if (!ok) {
    OPENSSL_cleanse(a.out, a.out_len);
    return int_value(env, -1);
  }
  return int_value(env, body_len);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"importKey", NULL, import_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"encrypt", NULL, aead_encrypt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"decrypt", NULL, aead_decrypt, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}

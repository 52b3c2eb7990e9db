// FFmpeg is opened on first use rather than when the process starts. Debian's libavcodec needs about 150 shared
// libraries (x265, rav1e, librsvg, …); loading them costs each process ~28 MB of RSS, which `reel worker`, the
// operator and the API server would pay without ever touching a video. Every FFmpeg function Reel calls is defined
// here with the header's own prototype (so the compiler checks each one) and forwards to the real one, found with
// dlsym in the libraries this file was compiled against (their major versions come from the headers).
#include "CFFmpeg.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REEL_STR2(x) #x
#define REEL_STR(x) REEL_STR2(x)

static const char *const reel_ffmpeg_names[] = {
    "libavformat.so." REEL_STR(LIBAVFORMAT_VERSION_MAJOR),
    "libavcodec.so." REEL_STR(LIBAVCODEC_VERSION_MAJOR),
    "libavutil.so." REEL_STR(LIBAVUTIL_VERSION_MAJOR),
    "libswscale.so." REEL_STR(LIBSWSCALE_VERSION_MAJOR),
    "libswresample.so." REEL_STR(LIBSWRESAMPLE_VERSION_MAJOR),
};
#define REEL_FFMPEG_COUNT (sizeof reel_ffmpeg_names / sizeof reel_ffmpeg_names[0])

static void *reel_ffmpeg_handles[REEL_FFMPEG_COUNT];
static char reel_ffmpeg_error[512];
static pthread_once_t reel_ffmpeg_once = PTHREAD_ONCE_INIT;

static void reel_ffmpeg_open(void) {
    for (size_t i = 0; i < REEL_FFMPEG_COUNT; i++) {
        reel_ffmpeg_handles[i] = dlopen(reel_ffmpeg_names[i], RTLD_NOW | RTLD_LOCAL);
        if (reel_ffmpeg_handles[i] == NULL) {
            const char *reason = dlerror();
            snprintf(reel_ffmpeg_error, sizeof reel_ffmpeg_error, "%s", reason ? reason : reel_ffmpeg_names[i]);
            return;
        }
    }
}

const char *reel_ffmpeg_load(void) {
    pthread_once(&reel_ffmpeg_once, reel_ffmpeg_open);
    return reel_ffmpeg_error[0] ? reel_ffmpeg_error : NULL;
}

// Reel calls reel_ffmpeg_load before its first FFmpeg call and reports a failure as an error; reaching a function
// that cannot be found afterwards is a build against other headers than the libraries present, and cannot go on.
static void *reel_ffmpeg_symbol(const char *name) {
    const char *error = reel_ffmpeg_load();
    if (error != NULL) {
        fprintf(stderr, "reel: cannot load FFmpeg: %s\n", error);
        abort();
    }
    for (size_t i = 0; i < REEL_FFMPEG_COUNT; i++) {
        void *symbol = dlsym(reel_ffmpeg_handles[i], name);
        if (symbol != NULL) return symbol;
    }
    fprintf(stderr, "reel: FFmpeg's libraries have no %s\n", name);
    abort();
}

#define REEL_RESOLVE(name)                                                           \
    static __typeof__(&name) resolved;                                               \
    __typeof__(&name) function = __atomic_load_n(&resolved, __ATOMIC_ACQUIRE);       \
    if (function == NULL) {                                                          \
        function = (__typeof__(&name))reel_ffmpeg_symbol(#name);                     \
        __atomic_store_n(&resolved, function, __ATOMIC_RELEASE);                     \
    }

#define REEL_FORWARD(type, name, parameters, arguments)                              \
    __attribute__((visibility("hidden"))) type name parameters {                     \
        REEL_RESOLVE(name)                                                           \
        return function arguments;                                                   \
    }

#define REEL_FORWARD_VOID(name, parameters, arguments)                               \
    __attribute__((visibility("hidden"))) void name parameters {                     \
        REEL_RESOLVE(name)                                                           \
        function arguments;                                                          \
    }

REEL_FORWARD(AVAudioFifo *, av_audio_fifo_alloc, (enum AVSampleFormat sample_fmt, int channels, int nb_samples), (sample_fmt, channels, nb_samples))
REEL_FORWARD_VOID(av_audio_fifo_free, (AVAudioFifo *af), (af))
REEL_FORWARD(int, av_audio_fifo_read, (AVAudioFifo *af, void **data, int nb_samples), (af, data, nb_samples))
REEL_FORWARD(int, av_audio_fifo_size, (AVAudioFifo *af), (af))
REEL_FORWARD(int, av_audio_fifo_write, (AVAudioFifo *af, void **data, int nb_samples), (af, data, nb_samples))
REEL_FORWARD(int, av_channel_layout_compare, (const AVChannelLayout *chl, const AVChannelLayout *chl1), (chl, chl1))
REEL_FORWARD(int, av_channel_layout_copy, (AVChannelLayout *dst, const AVChannelLayout *src), (dst, src))
REEL_FORWARD_VOID(av_channel_layout_default, (AVChannelLayout *ch_layout, int nb_channels), (ch_layout, nb_channels))
REEL_FORWARD(int, av_channel_layout_describe, (const AVChannelLayout *channel_layout, char *buf, size_t buf_size), (channel_layout, buf, buf_size))
REEL_FORWARD_VOID(av_dict_free, (AVDictionary **m), (m))
REEL_FORWARD(int, av_dict_set, (AVDictionary **pm, const char *key, const char *value, int flags), (pm, key, value, flags))
REEL_FORWARD(double, av_display_rotation_get, (const int32_t matrix[9]), (matrix))
REEL_FORWARD(int, av_find_best_stream, (AVFormatContext *ic, enum AVMediaType type, int wanted_stream_nb, int related_stream, const AVCodec **decoder_ret, int flags), (ic, type, wanted_stream_nb, related_stream, decoder_ret, flags))
REEL_FORWARD(AVFrame *, av_frame_alloc, (void), ())
REEL_FORWARD_VOID(av_frame_free, (AVFrame **frame), (frame))
REEL_FORWARD(int, av_frame_get_buffer, (AVFrame *frame, int align), (frame, align))
REEL_FORWARD(int, av_frame_ref, (AVFrame *dst, const AVFrame *src), (dst, src))
REEL_FORWARD_VOID(av_frame_unref, (AVFrame *frame), (frame))
REEL_FORWARD_VOID(av_freep, (void *ptr), (ptr))
REEL_FORWARD(const char *, av_get_pix_fmt_name, (enum AVPixelFormat pix_fmt), (pix_fmt))
REEL_FORWARD(const AVOutputFormat *, av_guess_format, (const char *short_name, const char *filename, const char *mime_type), (short_name, filename, mime_type))
REEL_FORWARD(AVRational, av_guess_frame_rate, (AVFormatContext *ctx, AVStream *stream, AVFrame *frame), (ctx, stream, frame))
REEL_FORWARD(int, av_index_search_timestamp, (AVStream *st, int64_t timestamp, int flags), (st, timestamp, flags))
REEL_FORWARD(int, av_interleaved_write_frame, (AVFormatContext *s, AVPacket *pkt), (s, pkt))
REEL_FORWARD_VOID(av_log_set_level, (int level), (level))
REEL_FORWARD(void *, av_mallocz, (size_t size), (size))
REEL_FORWARD(int, av_new_packet, (AVPacket *pkt, int size), (pkt, size))
REEL_FORWARD(AVPacket *, av_packet_alloc, (void), ())
REEL_FORWARD(AVPacket *, av_packet_clone, (const AVPacket *src), (src))
REEL_FORWARD(int, av_packet_copy_props, (AVPacket *dst, const AVPacket *src), (dst, src))
REEL_FORWARD_VOID(av_packet_free, (AVPacket **pkt), (pkt))
REEL_FORWARD_VOID(av_packet_move_ref, (AVPacket *dst, AVPacket *src), (dst, src))
REEL_FORWARD_VOID(av_packet_rescale_ts, (AVPacket *pkt, AVRational tb_src, AVRational tb_dst), (pkt, tb_src, tb_dst))
REEL_FORWARD_VOID(av_packet_unref, (AVPacket *pkt), (pkt))
REEL_FORWARD(int, av_read_frame, (AVFormatContext *s, AVPacket *pkt), (s, pkt))
REEL_FORWARD(int64_t, av_rescale_q, (int64_t a, AVRational bq, AVRational cq), (a, bq, cq))
REEL_FORWARD(int, av_seek_frame, (AVFormatContext *s, int stream_index, int64_t timestamp, int flags), (s, stream_index, timestamp, flags))
REEL_FORWARD(uint8_t *, av_stream_get_side_data, (const AVStream *stream, enum AVPacketSideDataType type, size_t *size), (stream, type, size))
REEL_FORWARD(uint8_t *, av_stream_new_side_data, (AVStream *stream, enum AVPacketSideDataType type, size_t size), (stream, type, size))
REEL_FORWARD(int, av_strerror, (int errnum, char *errbuf, size_t errbuf_size), (errnum, errbuf, errbuf_size))
REEL_FORWARD(const char *, av_version_info, (void), ())
REEL_FORWARD(int, av_write_trailer, (AVFormatContext *s), (s))
REEL_FORWARD(AVCodecContext *, avcodec_alloc_context3, (const AVCodec *codec), (codec))
REEL_FORWARD(const AVCodecDescriptor *, avcodec_descriptor_get_by_name, (const char *name), (name))
REEL_FORWARD(const AVCodec *, avcodec_find_decoder, (enum AVCodecID id), (id))
REEL_FORWARD(const AVCodec *, avcodec_find_encoder, (enum AVCodecID id), (id))
REEL_FORWARD(const AVCodec *, avcodec_find_encoder_by_name, (const char *name), (name))
REEL_FORWARD_VOID(avcodec_flush_buffers, (AVCodecContext *avctx), (avctx))
REEL_FORWARD_VOID(avcodec_free_context, (AVCodecContext **avctx), (avctx))
REEL_FORWARD(const char *, avcodec_get_name, (enum AVCodecID id), (id))
REEL_FORWARD(int, avcodec_open2, (AVCodecContext *avctx, const AVCodec *codec, AVDictionary **options), (avctx, codec, options))
REEL_FORWARD(AVCodecParameters *, avcodec_parameters_alloc, (void), ())
REEL_FORWARD(int, avcodec_parameters_copy, (AVCodecParameters *dst, const AVCodecParameters *src), (dst, src))
REEL_FORWARD_VOID(avcodec_parameters_free, (AVCodecParameters **par), (par))
REEL_FORWARD(int, avcodec_parameters_from_context, (AVCodecParameters *par, const AVCodecContext *codec), (par, codec))
REEL_FORWARD(int, avcodec_parameters_to_context, (AVCodecContext *codec, const AVCodecParameters *par), (codec, par))
REEL_FORWARD(const char *, avcodec_profile_name, (enum AVCodecID codec_id, int profile), (codec_id, profile))
REEL_FORWARD(int, avcodec_receive_frame, (AVCodecContext *avctx, AVFrame *frame), (avctx, frame))
REEL_FORWARD(int, avcodec_receive_packet, (AVCodecContext *avctx, AVPacket *avpkt), (avctx, avpkt))
REEL_FORWARD(int, avcodec_send_frame, (AVCodecContext *avctx, const AVFrame *frame), (avctx, frame))
REEL_FORWARD(int, avcodec_send_packet, (AVCodecContext *avctx, const AVPacket *avpkt), (avctx, avpkt))
REEL_FORWARD(unsigned, avcodec_version, (void), ())
REEL_FORWARD(int, avformat_alloc_output_context2, (AVFormatContext **ctx, const AVOutputFormat *oformat, const char *format_name, const char *filename), (ctx, oformat, format_name, filename))
REEL_FORWARD_VOID(avformat_close_input, (AVFormatContext **s), (s))
REEL_FORWARD(int, avformat_find_stream_info, (AVFormatContext *ic, AVDictionary **options), (ic, options))
REEL_FORWARD_VOID(avformat_free_context, (AVFormatContext *s), (s))
REEL_FORWARD(AVStream *, avformat_new_stream, (AVFormatContext *s, const AVCodec *c), (s, c))
REEL_FORWARD(const AVIndexEntry *, avformat_index_get_entry, (AVStream *st, int idx), (st, idx))
REEL_FORWARD(int, avformat_open_input, (AVFormatContext **ps, const char *url, const AVInputFormat *fmt, AVDictionary **options), (ps, url, fmt, options))
REEL_FORWARD(int, avformat_query_codec, (const AVOutputFormat *ofmt, enum AVCodecID codec_id, int std_compliance), (ofmt, codec_id, std_compliance))
REEL_FORWARD(unsigned, avformat_version, (void), ())
REEL_FORWARD(int, avformat_write_header, (AVFormatContext *s, AVDictionary **options), (s, options))
REEL_FORWARD(int, avio_closep, (AVIOContext **s), (s))
REEL_FORWARD(int, avio_open, (AVIOContext **s, const char *url, int flags), (s, url, flags))
REEL_FORWARD(unsigned, avutil_version, (void), ())
REEL_FORWARD(unsigned, swresample_version, (void), ())
REEL_FORWARD(int, swr_alloc_set_opts2, (struct SwrContext **ps, AVChannelLayout *out_ch_layout, enum AVSampleFormat out_sample_fmt, int out_sample_rate, AVChannelLayout *in_ch_layout, enum AVSampleFormat in_sample_fmt, int in_sample_rate, int log_offset, void *log_ctx), (ps, out_ch_layout, out_sample_fmt, out_sample_rate, in_ch_layout, in_sample_fmt, in_sample_rate, log_offset, log_ctx))
REEL_FORWARD(int, swr_convert, (struct SwrContext *s, uint8_t **out, int out_count, const uint8_t **in , int in_count), (s, out, out_count, in, in_count))
REEL_FORWARD_VOID(swr_free, (struct SwrContext **s), (s))
REEL_FORWARD(int, swr_get_out_samples, (struct SwrContext *s, int in_samples), (s, in_samples))
REEL_FORWARD(int, swr_init, (struct SwrContext *s), (s))
REEL_FORWARD(unsigned, swscale_version, (void), ())
REEL_FORWARD_VOID(sws_freeContext, (struct SwsContext *swsContext), (swsContext))
REEL_FORWARD(struct SwsContext *, sws_getCachedContext, (struct SwsContext *context, int srcW, int srcH, enum AVPixelFormat srcFormat, int dstW, int dstH, enum AVPixelFormat dstFormat, int flags, SwsFilter *srcFilter, SwsFilter *dstFilter, const double *param), (context, srcW, srcH, srcFormat, dstW, dstH, dstFormat, flags, srcFilter, dstFilter, param))
REEL_FORWARD(struct SwsContext *, sws_getContext, (int srcW, int srcH, enum AVPixelFormat srcFormat, int dstW, int dstH, enum AVPixelFormat dstFormat, int flags, SwsFilter *srcFilter, SwsFilter *dstFilter, const double *param), (srcW, srcH, srcFormat, dstW, dstH, dstFormat, flags, srcFilter, dstFilter, param))
REEL_FORWARD(int, sws_scale, (struct SwsContext *c, const uint8_t *const srcSlice[], const int srcStride[], int srcSliceY, int srcSliceH, uint8_t *const dst[], const int dstStride[]), (c, srcSlice, srcStride, srcSliceY, srcSliceH, dst, dstStride))

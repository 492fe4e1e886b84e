"""The config tree: PySlowFast's key names and defaults, plus the MUTUALNET and EXPORT groups.

A YAML written for PySlowFast loads unchanged. Keys this toolkit does not act on are still accepted
(so such files load), and are listed in ``IGNORED_KEYS``: ``load_config`` logs which of them a file
set, instead of pretending to honour them.
"""
from fvcore.common.config import CfgNode

_C = CfgNode()

# ----------------------------------------------------------------------------- BN
_C.BN = CfgNode()
_C.BN.USE_PRECISE_STATS = False
# Batches used to re-calibrate BN statistics of a sub-network config (MutualNet's 2D code: 9).
_C.BN.NUM_BATCHES_PRECISE = 200
_C.BN.WEIGHT_DECAY = 0.0
_C.BN.NORM_TYPE = "batchnorm"
_C.BN.NUM_SPLITS = 1
_C.BN.NUM_SYNC_DEVICES = 1
_C.BN.MOMENTUM = 0.1
_C.BN.EPSILON = 1e-5

# -------------------------------------------------------------------------- TRAIN
_C.TRAIN = CfgNode()
_C.TRAIN.ENABLE = True
_C.TRAIN.DATASET = "kinetics"
_C.TRAIN.BATCH_SIZE = 64
_C.TRAIN.EVAL_PERIOD = 10
_C.TRAIN.CHECKPOINT_PERIOD = 10
_C.TRAIN.AUTO_RESUME = True
# Initial weights: one of our checkpoints, a pytorchvideo or a PySlowFast model-zoo file.
_C.TRAIN.CHECKPOINT_FILE_PATH = ""
_C.TRAIN.CHECKPOINT_TYPE = "pytorch"
_C.TRAIN.CHECKPOINT_INFLATE = False
_C.TRAIN.CHECKPOINT_EPOCH_RESET = False
_C.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN = ()
# Automatic mixed precision on CUDA (ignored, with a warning, on CPU).
_C.TRAIN.MIXED_PRECISION = False

# ---------------------------------------------------------------------------- AUG
_C.AUG = CfgNode()
_C.AUG.ENABLE = False
_C.AUG.NUM_SAMPLE = 1
_C.AUG.COLOR_JITTER = 0.4
_C.AUG.AA_TYPE = "rand-m9-mstd0.5-inc1"
_C.AUG.INTERPOLATION = "bicubic"
_C.AUG.RE_PROB = 0.25
_C.AUG.RE_MODE = "pixel"
_C.AUG.RE_COUNT = 1
_C.AUG.RE_SPLIT = False

# -------------------------------------------------------------------------- MIXUP
_C.MIXUP = CfgNode()
_C.MIXUP.ENABLE = False
_C.MIXUP.ALPHA = 0.8
_C.MIXUP.CUTMIX_ALPHA = 1.0
_C.MIXUP.PROB = 1.0
_C.MIXUP.SWITCH_PROB = 0.5
_C.MIXUP.LABEL_SMOOTH_VALUE = 0.1

# --------------------------------------------------------------------------- TEST
_C.TEST = CfgNode()
_C.TEST.ENABLE = True
_C.TEST.DATASET = "kinetics"
_C.TEST.BATCH_SIZE = 8
_C.TEST.CHECKPOINT_FILE_PATH = ""
_C.TEST.NUM_ENSEMBLE_VIEWS = 10
_C.TEST.NUM_SPATIAL_CROPS = 3
_C.TEST.CHECKPOINT_TYPE = "pytorch"
_C.TEST.SAVE_RESULTS_PATH = ""
# Which annotation list the test-time (multi-view) evaluation reads: "test", or "val" to evaluate the
# grid on the validation videos with test-time views (choose configs on val, report them on test).
_C.TEST.SPLIT = "test"

# ------------------------------------------------------------------------- RESNET
_C.RESNET = CfgNode()
_C.RESNET.TRANS_FUNC = "bottleneck_transform"
_C.RESNET.NUM_GROUPS = 1
_C.RESNET.WIDTH_PER_GROUP = 64
_C.RESNET.INPLACE_RELU = True
_C.RESNET.STRIDE_1X1 = False
_C.RESNET.ZERO_INIT_FINAL_BN = False
_C.RESNET.DEPTH = 50
_C.RESNET.NUM_BLOCK_TEMP_KERNEL = [[3], [4], [6], [3]]
_C.RESNET.SPATIAL_STRIDES = [[1], [2], [2], [2]]
_C.RESNET.SPATIAL_DILATIONS = [[1], [1], [1], [1]]

# ---------------------------------------------------------------------------- X3D
_C.X3D = CfgNode()
_C.X3D.WIDTH_FACTOR = 1.0
_C.X3D.DEPTH_FACTOR = 1.0
_C.X3D.BOTTLENECK_FACTOR = 1.0
_C.X3D.DIM_C5 = 2048
_C.X3D.DIM_C1 = 12
_C.X3D.SCALE_RES2 = False
_C.X3D.BN_LIN5 = False
_C.X3D.CHANNELWISE_3x3x3 = True

# ----------------------------------------------------------------------- NONLOCAL
_C.NONLOCAL = CfgNode()
_C.NONLOCAL.LOCATION = [[[]], [[]], [[]], [[]]]
_C.NONLOCAL.GROUP = [[1], [1], [1], [1]]
_C.NONLOCAL.INSTANTIATION = "dot_product"
_C.NONLOCAL.POOL = [[[1, 2, 2], [1, 2, 2]]] * 4

# -------------------------------------------------------------------------- MODEL
_C.MODEL = CfgNode()
# One of: x3d, slowfast, slow (PySlowFast's arch names).
_C.MODEL.ARCH = "slowfast"
_C.MODEL.MODEL_NAME = "SlowFast"
_C.MODEL.NUM_CLASSES = 400
# cross_entropy (default) or soft_cross_entropy.
_C.MODEL.LOSS_FUNC = "cross_entropy"
_C.MODEL.SINGLE_PATHWAY_ARCH = ["2d", "c2d", "i3d", "slow", "x3d", "mvit"]
_C.MODEL.MULTI_PATHWAY_ARCH = ["slowfast"]
_C.MODEL.DROPOUT_RATE = 0.5
_C.MODEL.DROPCONNECT_RATE = 0.0
_C.MODEL.FC_INIT_STD = 0.01
# The model always returns logits; this activation is applied only where scores are wanted (eval).
_C.MODEL.HEAD_ACT = "softmax"

# ----------------------------------------------------------------------- SLOWFAST
_C.SLOWFAST = CfgNode()
_C.SLOWFAST.BETA_INV = 8
_C.SLOWFAST.ALPHA = 8
_C.SLOWFAST.FUSION_CONV_CHANNEL_RATIO = 2
_C.SLOWFAST.FUSION_KERNEL_SZ = 5

# --------------------------------------------------------------------------- DATA
_C.DATA = CfgNode()
_C.DATA.PATH_TO_DATA_DIR = ""
_C.DATA.PATH_LABEL_SEPARATOR = " "
_C.DATA.PATH_PREFIX = ""
_C.DATA.NUM_FRAMES = 8
_C.DATA.SAMPLING_RATE = 8
_C.DATA.TRAIN_PCA_EIGVAL = [0.225, 0.224, 0.229]
_C.DATA.TRAIN_PCA_EIGVEC = [
    [-0.5675, 0.7192, 0.4009],
    [-0.5808, -0.0045, -0.8140],
    [-0.5836, -0.6948, 0.4203],
]
_C.DATA.PATH_TO_PRELOAD_IMDB = ""
_C.DATA.MEAN = [0.45, 0.45, 0.45]
_C.DATA.INPUT_CHANNEL_NUM = [3, 3]
_C.DATA.STD = [0.225, 0.225, 0.225]
_C.DATA.TRAIN_JITTER_SCALES = [256, 320]
_C.DATA.TRAIN_JITTER_SCALES_RELATIVE = []
_C.DATA.TRAIN_JITTER_ASPECT_RELATIVE = []
_C.DATA.USE_OFFSET_SAMPLING = False
_C.DATA.TRAIN_JITTER_MOTION_SHIFT = False
_C.DATA.TRAIN_CROP_SIZE = 224
_C.DATA.TEST_CROP_SIZE = 256
_C.DATA.TARGET_FPS = 30
# pyav or decord ("torchvision", as PySlowFast's X3D configs say, is read as pyav with a warning).
_C.DATA.DECODING_BACKEND = "pyav"
_C.DATA.INV_UNIFORM_SAMPLE = False
_C.DATA.RANDOM_FLIP = True
_C.DATA.MULTI_LABEL = False
_C.DATA.ENSEMBLE_METHOD = "sum"
_C.DATA.REVERSE_INPUT_CHANNEL = False
# How many other videos to try when one cannot be decoded, before giving up with an error.
_C.DATA.NUM_RETRIES = 10
# Decode each video once and keep all its frames in memory for the rest of the process (small data
# sets such as the embedded synthetic one; see mutualnet_video.data.memory).
_C.DATA.DECODE_ONCE = False
# SSv2: read extracted frames (PySlowFast frame-list csv) instead of the .webm videos.
_C.DATA.USE_FRAMES = False
# UCF-101 / HMDB-51: which of the official train/test splits (1, 2 or 3) to read.
_C.DATA.SPLIT = 1
# Which frames a clip takes: "clip" (SAMPLING_RATE-spaced span, Kinetics) or "segment" (one frame
# per NUM_FRAMES equal segments, PySlowFast's SSv2). Empty: the data set's own rule.
_C.DATA.TEMPORAL_SAMPLING = ""

# ------------------------------------------------------------------------- SOLVER
_C.SOLVER = CfgNode()
_C.SOLVER.BASE_LR = 0.1
_C.SOLVER.LR_POLICY = "cosine"
_C.SOLVER.COSINE_END_LR = 0.0
_C.SOLVER.GAMMA = 0.1
_C.SOLVER.STEP_SIZE = 1
_C.SOLVER.STEPS = []
_C.SOLVER.LRS = []
_C.SOLVER.MAX_EPOCH = 300
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.DAMPENING = 0.0
_C.SOLVER.NESTEROV = True
_C.SOLVER.WEIGHT_DECAY = 1e-4
_C.SOLVER.WARMUP_FACTOR = 0.1
_C.SOLVER.WARMUP_EPOCHS = 0.0
_C.SOLVER.WARMUP_START_LR = 0.01
_C.SOLVER.OPTIMIZING_METHOD = "sgd"
_C.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False
_C.SOLVER.COSINE_AFTER_WARMUP = False
_C.SOLVER.ZERO_WD_1D_PARAM = False

# --------------------------------------------------------------------------- MISC
_C.NUM_GPUS = 1
_C.NUM_SHARDS = 1
_C.SHARD_ID = 0
_C.OUTPUT_DIR = "./tmp"
_C.RNG_SEED = 1
_C.LOG_PERIOD = 10
_C.LOG_MODEL_INFO = True
_C.DIST_BACKEND = "nccl"

_C.DATA_LOADER = CfgNode()
_C.DATA_LOADER.NUM_WORKERS = 8
_C.DATA_LOADER.PIN_MEMORY = True
_C.DATA_LOADER.ENABLE_MULTI_THREAD_DECODE = False

_C.TENSORBOARD = CfgNode()
_C.TENSORBOARD.ENABLE = False
_C.TENSORBOARD.LOG_DIR = ""

# ---------------------------------------------------------------------- MUTUALNET
_C.MUTUALNET = CfgNode()
# "mutualnet": width x crop x frames with in-place distillation (the default);
# "sandwich": US-Nets style, widths only, every sub-network at the full input;
# "static": plain training of the single config (MAX width, full input): the baseline.
_C.MUTUALNET.MODE = "mutualnet"
# [min, max] width multiplier of the slimmed layers; the max is the full network.
_C.MUTUALNET.WIDTH_RANGE = [0.25, 1.0]
# Spatial sizes sub-networks are trained at (the full TRAIN_CROP_SIZE is always one of them).
# Empty: derived from DATA.TRAIN_CROP_SIZE as crop * {1, 6/7, 5/7, 4/7} (MutualNet's 224..128 ladder).
_C.MUTUALNET.CROP_SIZES = []
# Frame counts sub-networks are trained at (for SlowFast: Slow-pathway frames).
# Empty: derived from DATA.NUM_FRAMES as {T, 3T/4, T/2}.
_C.MUTUALNET.NUM_FRAMES_LIST = []
# Sub-networks trained per step besides the full one: the min width plus NUM_SUBNETS - 1 random.
_C.MUTUALNET.NUM_SUBNETS = 3
# Active channels = make_divisible(channels * width, WIDTH_DIVISOR), capped at the full count.
_C.MUTUALNET.WIDTH_DIVISOR = 8
# If True the min-width sub-network always gets the smallest crop and frame count.
_C.MUTUALNET.MIN_WIDTH_SMALLEST_INPUT = False
# SlowFast: pathways whose channels are slimmed (0 = Slow, 1 = Fast). The paper slims Slow only.
_C.MUTUALNET.SLIM_PATHWAYS = [0]
# SlowFast: pathways whose input is reduced in frames/crop. The paper reduces Slow only; the
# Fast-to-Slow lateral features are then average-pooled to the Slow pathway's size.
_C.MUTUALNET.REDUCE_PATHWAYS = [0]
# Weight of each sub-network's loss (its distillation loss, or its label loss without INPLACE_DISTILL).
_C.MUTUALNET.DISTILL_WEIGHT = 1.0
# True: sub-networks learn from the full config's detached prediction (in-place distillation, the
# method). False: an ablation, every sub-network learns from the labels with MODEL.LOSS_FUNC.
_C.MUTUALNET.INPLACE_DISTILL = True
# No weight decay on depthwise (channel-wise) convolutions, as MutualNet's code does.
_C.MUTUALNET.ZERO_WD_DEPTHWISE = True
# Configs evaluated for the accuracy-vs-GFLOPs curve. Each list empty: derived from the ranges above.
_C.MUTUALNET.EVAL_GRID = CfgNode()
_C.MUTUALNET.EVAL_GRID.WIDTHS = []
_C.MUTUALNET.EVAL_GRID.CROPS = []
_C.MUTUALNET.EVAL_GRID.FRAMES = []
# Training batches each config's BN statistics are calibrated on for the curve and the exported
# budgets (the bank stored with the checkpoint); 0: BN.NUM_BATCHES_PRECISE (the trainer's validation
# always uses that). A split with fewer batches is drawn again.
_C.MUTUALNET.EVAL_GRID.BN_BATCHES = 0

# ------------------------------------------------------------------------- EXPORT
_C.EXPORT = CfgNode()
_C.EXPORT.OUTPUT_DIR = ""
# GFLOPs budgets to export; empty: from OUTPUT_DIR/query_table.json, else min / middle / full.
_C.EXPORT.BUDGETS = []
_C.EXPORT.FORMATS = ["pyth", "torchscript", "onnx"]
_C.EXPORT.ONNX_OPSET = 17
_C.EXPORT.LATENCY_BATCH_SIZE = 8
_C.EXPORT.LATENCY_WARMUP = 3
_C.EXPORT.LATENCY_REPEATS = 10

# ------------------------------------------------------------------------- MULTIGRID
# PySlowFast's multigrid schedule (Wu et al., CVPR 2020), accepted so its configs load; not used here.
_C.MULTIGRID = CfgNode()
_C.MULTIGRID.EPOCH_FACTOR = 1.5
_C.MULTIGRID.SHORT_CYCLE = False
_C.MULTIGRID.SHORT_CYCLE_FACTORS = [0.5, 0.5**0.5]
_C.MULTIGRID.LONG_CYCLE = False
_C.MULTIGRID.LONG_CYCLE_FACTORS = [(0.25, 0.5**0.5), (0.5, 0.5**0.5), (0.5, 1), (1, 1)]
_C.MULTIGRID.BN_BASE_SIZE = 8
_C.MULTIGRID.EVAL_FREQ = 3
_C.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 0
_C.MULTIGRID.DEFAULT_B = 0
_C.MULTIGRID.DEFAULT_T = 0
_C.MULTIGRID.DEFAULT_S = 0

# Keys whose value is one of a few names: load_config checks them, the code reading them trusts it.
CHOICES = {
    "MUTUALNET.MODE": ("mutualnet", "sandwich", "static"),
    "TEST.SPLIT": ("val", "test"),
    "DATA.ENSEMBLE_METHOD": ("sum", "max"),
}

# Keys accepted so PySlowFast files load, but not acted on by this toolkit (tests/test_config.py
# checks that every key is either read by the code or listed here, never both).
IGNORED_KEYS = (
    "AUG",
    "MIXUP",
    "MULTIGRID",
    "NONLOCAL",
    "BN.USE_PRECISE_STATS",
    "MODEL.FC_INIT_STD",
    "RESNET.SPATIAL_STRIDES",
    "RESNET.NUM_BLOCK_TEMP_KERNEL",
    "SOLVER.GAMMA",
    "SOLVER.STEP_SIZE",
    "SOLVER.WARMUP_FACTOR",
    "TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN",
    "DATA.INPUT_CHANNEL_NUM",
    "BN.NORM_TYPE",
    "BN.NUM_SPLITS",
    "BN.NUM_SYNC_DEVICES",
    "TRAIN.CHECKPOINT_TYPE",
    "TRAIN.CHECKPOINT_INFLATE",
    "TEST.CHECKPOINT_TYPE",
    "RESNET.TRANS_FUNC",
    "RESNET.INPLACE_RELU",
    "RESNET.STRIDE_1X1",
    "RESNET.NUM_GROUPS",
    "RESNET.SPATIAL_DILATIONS",
    "X3D.SCALE_RES2",
    "X3D.CHANNELWISE_3x3x3",
    "MODEL.SINGLE_PATHWAY_ARCH",
    "MODEL.MULTI_PATHWAY_ARCH",
    "MODEL.DROPCONNECT_RATE",
    "DATA.TRAIN_PCA_EIGVAL",
    "DATA.TRAIN_PCA_EIGVEC",
    "DATA.PATH_TO_PRELOAD_IMDB",
    "DATA.TRAIN_JITTER_SCALES_RELATIVE",
    "DATA.TRAIN_JITTER_ASPECT_RELATIVE",
    "DATA.TRAIN_JITTER_MOTION_SHIFT",
    "DATA.MULTI_LABEL",
    "DATA_LOADER.ENABLE_MULTI_THREAD_DECODE",
    "LOG_MODEL_INFO",
)


def get_cfg() -> CfgNode:
    """A fresh copy of the default config."""
    return _C.clone()

"""200 small tests: the plugin's cost per test (bench/leaks.py)."""
import json


def test_small_000():
    assert json.loads(json.dumps({'k': [0, 'x' * 0]}))['k'][0] == 0

def test_small_001():
    assert json.loads(json.dumps({'k': [1, 'x' * 1]}))['k'][0] == 1

def test_small_002():
    assert json.loads(json.dumps({'k': [2, 'x' * 2]}))['k'][0] == 2

def test_small_003():
    assert json.loads(json.dumps({'k': [3, 'x' * 3]}))['k'][0] == 3

def test_small_004():
    assert json.loads(json.dumps({'k': [4, 'x' * 4]}))['k'][0] == 4

def test_small_005():
    assert json.loads(json.dumps({'k': [5, 'x' * 5]}))['k'][0] == 5

def test_small_006():
    assert json.loads(json.dumps({'k': [6, 'x' * 6]}))['k'][0] == 6

def test_small_007():
    assert json.loads(json.dumps({'k': [7, 'x' * 7]}))['k'][0] == 7

def test_small_008():
    assert json.loads(json.dumps({'k': [8, 'x' * 8]}))['k'][0] == 8

def test_small_009():
    assert json.loads(json.dumps({'k': [9, 'x' * 9]}))['k'][0] == 9

def test_small_010():
    assert json.loads(json.dumps({'k': [10, 'x' * 10]}))['k'][0] == 10

def test_small_011():
    assert json.loads(json.dumps({'k': [11, 'x' * 11]}))['k'][0] == 11

def test_small_012():
    assert json.loads(json.dumps({'k': [12, 'x' * 12]}))['k'][0] == 12

def test_small_013():
    assert json.loads(json.dumps({'k': [13, 'x' * 13]}))['k'][0] == 13

def test_small_014():
    assert json.loads(json.dumps({'k': [14, 'x' * 14]}))['k'][0] == 14

def test_small_015():
    assert json.loads(json.dumps({'k': [15, 'x' * 15]}))['k'][0] == 15

def test_small_016():
    assert json.loads(json.dumps({'k': [16, 'x' * 16]}))['k'][0] == 16

def test_small_017():
    assert json.loads(json.dumps({'k': [17, 'x' * 0]}))['k'][0] == 17

def test_small_018():
    assert json.loads(json.dumps({'k': [18, 'x' * 1]}))['k'][0] == 18

def test_small_019():
    assert json.loads(json.dumps({'k': [19, 'x' * 2]}))['k'][0] == 19

def test_small_020():
    assert json.loads(json.dumps({'k': [20, 'x' * 3]}))['k'][0] == 20

def test_small_021():
    assert json.loads(json.dumps({'k': [21, 'x' * 4]}))['k'][0] == 21

def test_small_022():
    assert json.loads(json.dumps({'k': [22, 'x' * 5]}))['k'][0] == 22

def test_small_023():
    assert json.loads(json.dumps({'k': [23, 'x' * 6]}))['k'][0] == 23

def test_small_024():
    assert json.loads(json.dumps({'k': [24, 'x' * 7]}))['k'][0] == 24

def test_small_025():
    assert json.loads(json.dumps({'k': [25, 'x' * 8]}))['k'][0] == 25

def test_small_026():
    assert json.loads(json.dumps({'k': [26, 'x' * 9]}))['k'][0] == 26

def test_small_027():
    assert json.loads(json.dumps({'k': [27, 'x' * 10]}))['k'][0] == 27

def test_small_028():
    assert json.loads(json.dumps({'k': [28, 'x' * 11]}))['k'][0] == 28

def test_small_029():
    assert json.loads(json.dumps({'k': [29, 'x' * 12]}))['k'][0] == 29

def test_small_030():
    assert json.loads(json.dumps({'k': [30, 'x' * 13]}))['k'][0] == 30

def test_small_031():
    assert json.loads(json.dumps({'k': [31, 'x' * 14]}))['k'][0] == 31

def test_small_032():
    assert json.loads(json.dumps({'k': [32, 'x' * 15]}))['k'][0] == 32

def test_small_033():
    assert json.loads(json.dumps({'k': [33, 'x' * 16]}))['k'][0] == 33

def test_small_034():
    assert json.loads(json.dumps({'k': [34, 'x' * 0]}))['k'][0] == 34

def test_small_035():
    assert json.loads(json.dumps({'k': [35, 'x' * 1]}))['k'][0] == 35

def test_small_036():
    assert json.loads(json.dumps({'k': [36, 'x' * 2]}))['k'][0] == 36

def test_small_037():
    assert json.loads(json.dumps({'k': [37, 'x' * 3]}))['k'][0] == 37

def test_small_038():
    assert json.loads(json.dumps({'k': [38, 'x' * 4]}))['k'][0] == 38

def test_small_039():
    assert json.loads(json.dumps({'k': [39, 'x' * 5]}))['k'][0] == 39

def test_small_040():
    assert json.loads(json.dumps({'k': [40, 'x' * 6]}))['k'][0] == 40

def test_small_041():
    assert json.loads(json.dumps({'k': [41, 'x' * 7]}))['k'][0] == 41

def test_small_042():
    assert json.loads(json.dumps({'k': [42, 'x' * 8]}))['k'][0] == 42

def test_small_043():
    assert json.loads(json.dumps({'k': [43, 'x' * 9]}))['k'][0] == 43

def test_small_044():
    assert json.loads(json.dumps({'k': [44, 'x' * 10]}))['k'][0] == 44

def test_small_045():
    assert json.loads(json.dumps({'k': [45, 'x' * 11]}))['k'][0] == 45

def test_small_046():
    assert json.loads(json.dumps({'k': [46, 'x' * 12]}))['k'][0] == 46

def test_small_047():
    assert json.loads(json.dumps({'k': [47, 'x' * 13]}))['k'][0] == 47

def test_small_048():
    assert json.loads(json.dumps({'k': [48, 'x' * 14]}))['k'][0] == 48

def test_small_049():
    assert json.loads(json.dumps({'k': [49, 'x' * 15]}))['k'][0] == 49

def test_small_050():
    assert json.loads(json.dumps({'k': [50, 'x' * 16]}))['k'][0] == 50

def test_small_051():
    assert json.loads(json.dumps({'k': [51, 'x' * 0]}))['k'][0] == 51

def test_small_052():
    assert json.loads(json.dumps({'k': [52, 'x' * 1]}))['k'][0] == 52

def test_small_053():
    assert json.loads(json.dumps({'k': [53, 'x' * 2]}))['k'][0] == 53

def test_small_054():
    assert json.loads(json.dumps({'k': [54, 'x' * 3]}))['k'][0] == 54

def test_small_055():
    assert json.loads(json.dumps({'k': [55, 'x' * 4]}))['k'][0] == 55

def test_small_056():
    assert json.loads(json.dumps({'k': [56, 'x' * 5]}))['k'][0] == 56

def test_small_057():
    assert json.loads(json.dumps({'k': [57, 'x' * 6]}))['k'][0] == 57

def test_small_058():
    assert json.loads(json.dumps({'k': [58, 'x' * 7]}))['k'][0] == 58

def test_small_059():
    assert json.loads(json.dumps({'k': [59, 'x' * 8]}))['k'][0] == 59

def test_small_060():
    assert json.loads(json.dumps({'k': [60, 'x' * 9]}))['k'][0] == 60

def test_small_061():
    assert json.loads(json.dumps({'k': [61, 'x' * 10]}))['k'][0] == 61

def test_small_062():
    assert json.loads(json.dumps({'k': [62, 'x' * 11]}))['k'][0] == 62

def test_small_063():
    assert json.loads(json.dumps({'k': [63, 'x' * 12]}))['k'][0] == 63

def test_small_064():
    assert json.loads(json.dumps({'k': [64, 'x' * 13]}))['k'][0] == 64

def test_small_065():
    assert json.loads(json.dumps({'k': [65, 'x' * 14]}))['k'][0] == 65

def test_small_066():
    assert json.loads(json.dumps({'k': [66, 'x' * 15]}))['k'][0] == 66

def test_small_067():
    assert json.loads(json.dumps({'k': [67, 'x' * 16]}))['k'][0] == 67

def test_small_068():
    assert json.loads(json.dumps({'k': [68, 'x' * 0]}))['k'][0] == 68

def test_small_069():
    assert json.loads(json.dumps({'k': [69, 'x' * 1]}))['k'][0] == 69

def test_small_070():
    assert json.loads(json.dumps({'k': [70, 'x' * 2]}))['k'][0] == 70

def test_small_071():
    assert json.loads(json.dumps({'k': [71, 'x' * 3]}))['k'][0] == 71

def test_small_072():
    assert json.loads(json.dumps({'k': [72, 'x' * 4]}))['k'][0] == 72

def test_small_073():
    assert json.loads(json.dumps({'k': [73, 'x' * 5]}))['k'][0] == 73

def test_small_074():
    assert json.loads(json.dumps({'k': [74, 'x' * 6]}))['k'][0] == 74

def test_small_075():
    assert json.loads(json.dumps({'k': [75, 'x' * 7]}))['k'][0] == 75

def test_small_076():
    assert json.loads(json.dumps({'k': [76, 'x' * 8]}))['k'][0] == 76

def test_small_077():
    assert json.loads(json.dumps({'k': [77, 'x' * 9]}))['k'][0] == 77

def test_small_078():
    assert json.loads(json.dumps({'k': [78, 'x' * 10]}))['k'][0] == 78

def test_small_079():
    assert json.loads(json.dumps({'k': [79, 'x' * 11]}))['k'][0] == 79

def test_small_080():
    assert json.loads(json.dumps({'k': [80, 'x' * 12]}))['k'][0] == 80

def test_small_081():
    assert json.loads(json.dumps({'k': [81, 'x' * 13]}))['k'][0] == 81

def test_small_082():
    assert json.loads(json.dumps({'k': [82, 'x' * 14]}))['k'][0] == 82

def test_small_083():
    assert json.loads(json.dumps({'k': [83, 'x' * 15]}))['k'][0] == 83

def test_small_084():
    assert json.loads(json.dumps({'k': [84, 'x' * 16]}))['k'][0] == 84

def test_small_085():
    assert json.loads(json.dumps({'k': [85, 'x' * 0]}))['k'][0] == 85

def test_small_086():
    assert json.loads(json.dumps({'k': [86, 'x' * 1]}))['k'][0] == 86

def test_small_087():
    assert json.loads(json.dumps({'k': [87, 'x' * 2]}))['k'][0] == 87

def test_small_088():
    assert json.loads(json.dumps({'k': [88, 'x' * 3]}))['k'][0] == 88

def test_small_089():
    assert json.loads(json.dumps({'k': [89, 'x' * 4]}))['k'][0] == 89

def test_small_090():
    assert json.loads(json.dumps({'k': [90, 'x' * 5]}))['k'][0] == 90

def test_small_091():
    assert json.loads(json.dumps({'k': [91, 'x' * 6]}))['k'][0] == 91

def test_small_092():
    assert json.loads(json.dumps({'k': [92, 'x' * 7]}))['k'][0] == 92

def test_small_093():
    assert json.loads(json.dumps({'k': [93, 'x' * 8]}))['k'][0] == 93

def test_small_094():
    assert json.loads(json.dumps({'k': [94, 'x' * 9]}))['k'][0] == 94

def test_small_095():
    assert json.loads(json.dumps({'k': [95, 'x' * 10]}))['k'][0] == 95

def test_small_096():
    assert json.loads(json.dumps({'k': [96, 'x' * 11]}))['k'][0] == 96

def test_small_097():
    assert json.loads(json.dumps({'k': [97, 'x' * 12]}))['k'][0] == 97

def test_small_098():
    assert json.loads(json.dumps({'k': [98, 'x' * 13]}))['k'][0] == 98

def test_small_099():
    assert json.loads(json.dumps({'k': [99, 'x' * 14]}))['k'][0] == 99

def test_small_100():
    assert json.loads(json.dumps({'k': [100, 'x' * 15]}))['k'][0] == 100

def test_small_101():
    assert json.loads(json.dumps({'k': [101, 'x' * 16]}))['k'][0] == 101

def test_small_102():
    assert json.loads(json.dumps({'k': [102, 'x' * 0]}))['k'][0] == 102

def test_small_103():
    assert json.loads(json.dumps({'k': [103, 'x' * 1]}))['k'][0] == 103

def test_small_104():
    assert json.loads(json.dumps({'k': [104, 'x' * 2]}))['k'][0] == 104

def test_small_105():
    assert json.loads(json.dumps({'k': [105, 'x' * 3]}))['k'][0] == 105

def test_small_106():
    assert json.loads(json.dumps({'k': [106, 'x' * 4]}))['k'][0] == 106

def test_small_107():
    assert json.loads(json.dumps({'k': [107, 'x' * 5]}))['k'][0] == 107

def test_small_108():
    assert json.loads(json.dumps({'k': [108, 'x' * 6]}))['k'][0] == 108

def test_small_109():
    assert json.loads(json.dumps({'k': [109, 'x' * 7]}))['k'][0] == 109

def test_small_110():
    assert json.loads(json.dumps({'k': [110, 'x' * 8]}))['k'][0] == 110

def test_small_111():
    assert json.loads(json.dumps({'k': [111, 'x' * 9]}))['k'][0] == 111

def test_small_112():
    assert json.loads(json.dumps({'k': [112, 'x' * 10]}))['k'][0] == 112

def test_small_113():
    assert json.loads(json.dumps({'k': [113, 'x' * 11]}))['k'][0] == 113

def test_small_114():
    assert json.loads(json.dumps({'k': [114, 'x' * 12]}))['k'][0] == 114

def test_small_115():
    assert json.loads(json.dumps({'k': [115, 'x' * 13]}))['k'][0] == 115

def test_small_116():
    assert json.loads(json.dumps({'k': [116, 'x' * 14]}))['k'][0] == 116

def test_small_117():
    assert json.loads(json.dumps({'k': [117, 'x' * 15]}))['k'][0] == 117

def test_small_118():
    assert json.loads(json.dumps({'k': [118, 'x' * 16]}))['k'][0] == 118

def test_small_119():
    assert json.loads(json.dumps({'k': [119, 'x' * 0]}))['k'][0] == 119

def test_small_120():
    assert json.loads(json.dumps({'k': [120, 'x' * 1]}))['k'][0] == 120

def test_small_121():
    assert json.loads(json.dumps({'k': [121, 'x' * 2]}))['k'][0] == 121

def test_small_122():
    assert json.loads(json.dumps({'k': [122, 'x' * 3]}))['k'][0] == 122

def test_small_123():
    assert json.loads(json.dumps({'k': [123, 'x' * 4]}))['k'][0] == 123

def test_small_124():
    assert json.loads(json.dumps({'k': [124, 'x' * 5]}))['k'][0] == 124

def test_small_125():
    assert json.loads(json.dumps({'k': [125, 'x' * 6]}))['k'][0] == 125

def test_small_126():
    assert json.loads(json.dumps({'k': [126, 'x' * 7]}))['k'][0] == 126

def test_small_127():
    assert json.loads(json.dumps({'k': [127, 'x' * 8]}))['k'][0] == 127

def test_small_128():
    assert json.loads(json.dumps({'k': [128, 'x' * 9]}))['k'][0] == 128

def test_small_129():
    assert json.loads(json.dumps({'k': [129, 'x' * 10]}))['k'][0] == 129

def test_small_130():
    assert json.loads(json.dumps({'k': [130, 'x' * 11]}))['k'][0] == 130

def test_small_131():
    assert json.loads(json.dumps({'k': [131, 'x' * 12]}))['k'][0] == 131

def test_small_132():
    assert json.loads(json.dumps({'k': [132, 'x' * 13]}))['k'][0] == 132

def test_small_133():
    assert json.loads(json.dumps({'k': [133, 'x' * 14]}))['k'][0] == 133

def test_small_134():
    assert json.loads(json.dumps({'k': [134, 'x' * 15]}))['k'][0] == 134

def test_small_135():
    assert json.loads(json.dumps({'k': [135, 'x' * 16]}))['k'][0] == 135

def test_small_136():
    assert json.loads(json.dumps({'k': [136, 'x' * 0]}))['k'][0] == 136

def test_small_137():
    assert json.loads(json.dumps({'k': [137, 'x' * 1]}))['k'][0] == 137

def test_small_138():
    assert json.loads(json.dumps({'k': [138, 'x' * 2]}))['k'][0] == 138

def test_small_139():
    assert json.loads(json.dumps({'k': [139, 'x' * 3]}))['k'][0] == 139

def test_small_140():
    assert json.loads(json.dumps({'k': [140, 'x' * 4]}))['k'][0] == 140

def test_small_141():
    assert json.loads(json.dumps({'k': [141, 'x' * 5]}))['k'][0] == 141

def test_small_142():
    assert json.loads(json.dumps({'k': [142, 'x' * 6]}))['k'][0] == 142

def test_small_143():
    assert json.loads(json.dumps({'k': [143, 'x' * 7]}))['k'][0] == 143

def test_small_144():
    assert json.loads(json.dumps({'k': [144, 'x' * 8]}))['k'][0] == 144

def test_small_145():
    assert json.loads(json.dumps({'k': [145, 'x' * 9]}))['k'][0] == 145

def test_small_146():
    assert json.loads(json.dumps({'k': [146, 'x' * 10]}))['k'][0] == 146

def test_small_147():
    assert json.loads(json.dumps({'k': [147, 'x' * 11]}))['k'][0] == 147

def test_small_148():
    assert json.loads(json.dumps({'k': [148, 'x' * 12]}))['k'][0] == 148

def test_small_149():
    assert json.loads(json.dumps({'k': [149, 'x' * 13]}))['k'][0] == 149

def test_small_150():
    assert json.loads(json.dumps({'k': [150, 'x' * 14]}))['k'][0] == 150

def test_small_151():
    assert json.loads(json.dumps({'k': [151, 'x' * 15]}))['k'][0] == 151

def test_small_152():
    assert json.loads(json.dumps({'k': [152, 'x' * 16]}))['k'][0] == 152

def test_small_153():
    assert json.loads(json.dumps({'k': [153, 'x' * 0]}))['k'][0] == 153

def test_small_154():
    assert json.loads(json.dumps({'k': [154, 'x' * 1]}))['k'][0] == 154

def test_small_155():
    assert json.loads(json.dumps({'k': [155, 'x' * 2]}))['k'][0] == 155

def test_small_156():
    assert json.loads(json.dumps({'k': [156, 'x' * 3]}))['k'][0] == 156

def test_small_157():
    assert json.loads(json.dumps({'k': [157, 'x' * 4]}))['k'][0] == 157

def test_small_158():
    assert json.loads(json.dumps({'k': [158, 'x' * 5]}))['k'][0] == 158

def test_small_159():
    assert json.loads(json.dumps({'k': [159, 'x' * 6]}))['k'][0] == 159

def test_small_160():
    assert json.loads(json.dumps({'k': [160, 'x' * 7]}))['k'][0] == 160

def test_small_161():
    assert json.loads(json.dumps({'k': [161, 'x' * 8]}))['k'][0] == 161

def test_small_162():
    assert json.loads(json.dumps({'k': [162, 'x' * 9]}))['k'][0] == 162

def test_small_163():
    assert json.loads(json.dumps({'k': [163, 'x' * 10]}))['k'][0] == 163

def test_small_164():
    assert json.loads(json.dumps({'k': [164, 'x' * 11]}))['k'][0] == 164

def test_small_165():
    assert json.loads(json.dumps({'k': [165, 'x' * 12]}))['k'][0] == 165

def test_small_166():
    assert json.loads(json.dumps({'k': [166, 'x' * 13]}))['k'][0] == 166

def test_small_167():
    assert json.loads(json.dumps({'k': [167, 'x' * 14]}))['k'][0] == 167

def test_small_168():
    assert json.loads(json.dumps({'k': [168, 'x' * 15]}))['k'][0] == 168

def test_small_169():
    assert json.loads(json.dumps({'k': [169, 'x' * 16]}))['k'][0] == 169

def test_small_170():
    assert json.loads(json.dumps({'k': [170, 'x' * 0]}))['k'][0] == 170

def test_small_171():
    assert json.loads(json.dumps({'k': [171, 'x' * 1]}))['k'][0] == 171

def test_small_172():
    assert json.loads(json.dumps({'k': [172, 'x' * 2]}))['k'][0] == 172

def test_small_173():
    assert json.loads(json.dumps({'k': [173, 'x' * 3]}))['k'][0] == 173

def test_small_174():
    assert json.loads(json.dumps({'k': [174, 'x' * 4]}))['k'][0] == 174

def test_small_175():
    assert json.loads(json.dumps({'k': [175, 'x' * 5]}))['k'][0] == 175

def test_small_176():
    assert json.loads(json.dumps({'k': [176, 'x' * 6]}))['k'][0] == 176

def test_small_177():
    assert json.loads(json.dumps({'k': [177, 'x' * 7]}))['k'][0] == 177

def test_small_178():
    assert json.loads(json.dumps({'k': [178, 'x' * 8]}))['k'][0] == 178

def test_small_179():
    assert json.loads(json.dumps({'k': [179, 'x' * 9]}))['k'][0] == 179

def test_small_180():
    assert json.loads(json.dumps({'k': [180, 'x' * 10]}))['k'][0] == 180

def test_small_181():
    assert json.loads(json.dumps({'k': [181, 'x' * 11]}))['k'][0] == 181

def test_small_182():
    assert json.loads(json.dumps({'k': [182, 'x' * 12]}))['k'][0] == 182

def test_small_183():
    assert json.loads(json.dumps({'k': [183, 'x' * 13]}))['k'][0] == 183

def test_small_184():
    assert json.loads(json.dumps({'k': [184, 'x' * 14]}))['k'][0] == 184

def test_small_185():
    assert json.loads(json.dumps({'k': [185, 'x' * 15]}))['k'][0] == 185

def test_small_186():
    assert json.loads(json.dumps({'k': [186, 'x' * 16]}))['k'][0] == 186

def test_small_187():
    assert json.loads(json.dumps({'k': [187, 'x' * 0]}))['k'][0] == 187

def test_small_188():
    assert json.loads(json.dumps({'k': [188, 'x' * 1]}))['k'][0] == 188

def test_small_189():
    assert json.loads(json.dumps({'k': [189, 'x' * 2]}))['k'][0] == 189

def test_small_190():
    assert json.loads(json.dumps({'k': [190, 'x' * 3]}))['k'][0] == 190

def test_small_191():
    assert json.loads(json.dumps({'k': [191, 'x' * 4]}))['k'][0] == 191

def test_small_192():
    assert json.loads(json.dumps({'k': [192, 'x' * 5]}))['k'][0] == 192

def test_small_193():
    assert json.loads(json.dumps({'k': [193, 'x' * 6]}))['k'][0] == 193

def test_small_194():
    assert json.loads(json.dumps({'k': [194, 'x' * 7]}))['k'][0] == 194

def test_small_195():
    assert json.loads(json.dumps({'k': [195, 'x' * 8]}))['k'][0] == 195

def test_small_196():
    assert json.loads(json.dumps({'k': [196, 'x' * 9]}))['k'][0] == 196

def test_small_197():
    assert json.loads(json.dumps({'k': [197, 'x' * 10]}))['k'][0] == 197

def test_small_198():
    assert json.loads(json.dumps({'k': [198, 'x' * 11]}))['k'][0] == 198

def test_small_199():
    assert json.loads(json.dumps({'k': [199, 'x' * 12]}))['k'][0] == 199
